FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=assets /app/node_modules ./node_modules
RUN SECRET_KEY=build python manage.py collectstatic --noinput -v 0
RUN useradd --system --home /app crm && mkdir -p /app/media && chown crm /app/media
USER crm
EXPOSE 8000
CMD ["uvicorn", "crm.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
