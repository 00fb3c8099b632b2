from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.models import Team
from social import services


class Command(BaseCommand):
    help = "Create a LINE or WeChat channel with encrypted credentials and print its webhook path."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=["line", "wechat", "wecom"])
        parser.add_argument("--name", required=True)
        parser.add_argument("--secret", default="", help="LINE channel secret")
        parser.add_argument("--access-token", default="", help="LINE long-lived channel access token")
        parser.add_argument("--token", default="", help="WeChat server Token")
        parser.add_argument("--app-id", default="", help="WeChat AppID")
        parser.add_argument("--app-secret", default="", help="WeChat AppSecret")
        parser.add_argument("--corp-id", default="", help="WeCom Corp ID")
        parser.add_argument("--corp-secret", default="", help="WeCom customer-contact Secret")
        parser.add_argument("--aes-key", default="", help="WeChat EncodingAESKey (43 characters)")
        parser.add_argument(
            "--mode", default="", choices=["", "plain", "safe"], help="WeChat message encryption"
        )
        parser.add_argument("--team", default="", help="name of the team that receives its conversations")

    def handle(self, *args, **options):
        team = None
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first()
            if team is None:
                raise CommandError(f"No team named {options['team']!r}.")
        if options["kind"] == "line":
            credentials = {"channel_secret": options["secret"], "access_token": options["access_token"]}
        elif options["kind"] == "wecom":
            credentials = {
                "corp_id": options["corp_id"],
                "secret": options["corp_secret"],
                "token": options["token"],
                "aes_key": options["aes_key"],
            }
        else:
            mode = options["mode"] or ("safe" if options["aes_key"] else "plain")
            credentials = {
                "token": options["token"],
                "app_id": options["app_id"],
                "app_secret": options["app_secret"],
                "aes_key": options["aes_key"],
                "mode": mode,
            }
        try:
            channel = services.channel_create(
                actor=None, kind=options["kind"], name=options["name"], credentials=credentials, team=team
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(channel.webhook_path)
