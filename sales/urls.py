from django.urls import path

from . import settings_views, views

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
    path("pipelines/<int:pk>/", views.board, name="pipeline-board"),
    path("pipelines/<int:pk>/stages/<int:stage_pk>/cards/", views.board_column, name="board-column"),
    path("deals/", views.deal_list, name="deals"),
    path("deals/export/", views.deal_export, name="deal-export"),
    path("deals/new/", views.deal_create, name="deal-create"),
    path("deals/customers/", views.customer_options, name="customer-options"),
    path("deals/<int:pk>/", views.deal_detail, name="deal"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<int:pk>/card/", views.deal_card, name="deal-card"),
    path("deals/<int:pk>/quick-edit/", views.deal_quick_edit, name="deal-quick-edit"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal-move"),
    path("deals/<int:pk>/delete/", views.deal_delete, name="deal-delete"),
    path("deals/<int:pk>/share/", views.deal_share, name="deal-share"),
    path("deals/<int:pk>/items/", views.line_item_add, name="line-item-add"),
    path("deals/<int:pk>/items/<int:item_pk>/remove/", views.line_item_remove, name="line-item-remove"),
    path("my-day/", views.my_day, name="my-day"),
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task-complete"),
    path("tasks/<int:pk>/take/", views.task_take, name="task-take"),
    path("tasks/<int:pk>/delete/", views.task_delete, name="task-delete"),
    path("settings/", settings_views.index, name="settings"),
    path("settings/pipelines/new/", settings_views.pipeline_edit, name="pipeline-create"),
    path("settings/pipelines/<int:pk>/", settings_views.pipeline_edit, name="pipeline-edit"),
    path("settings/pipelines/<int:pk>/delete/", settings_views.pipeline_delete, name="pipeline-delete"),
    path("settings/<slug:kind>/new/", settings_views.simple_edit, name="settings-create"),
    path("settings/<slug:kind>/<int:pk>/", settings_views.simple_edit, name="settings-edit"),
]
