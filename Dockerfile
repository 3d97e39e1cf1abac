# Dockerfile — nginx with ngx_xyz_module, on Debian 12.
#
# Stage 1 builds the module exactly as scripts/build.sh does locally (against
# Debian's nginx-dev with Debian's configure flags); stage 2 is a runtime image
# with nginx and the shared libraries only.
#
#   docker build -t xyz-signup .
#   docker run -p 8080:8080 -e XYZ_PG_DSN='host=db port=5432 dbname=xyz user=xyz password=...' xyz-signup
#
# At start the container renders conf/dev.conf (the same template as `make run`)
# with XYZ_PG_DSN, listening on 0.0.0.0:8080, and runs nginx in the foreground.
# Migrations (sql/) are not applied by the container; run scripts/migrate.sh DSN.

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx nginx-dev build-essential \
        libpq-dev libsodium-dev libyajl-dev libcurl4-openssl-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY config ./config
COPY ngx_xyz_module ./ngx_xyz_module
COPY scripts/build.sh ./scripts/build.sh
RUN scripts/build.sh

FROM debian:bookworm
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx libpq5 libsodium23 libyajl2 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/ngx_xyz_module.so /usr/lib/nginx/modules/ngx_xyz_module.so
COPY html /usr/share/xyz/html
COPY conf/dev.conf conf/security-headers.conf /usr/share/xyz/conf/
COPY conf/templates /usr/share/xyz/conf/templates
COPY conf/passwords /usr/share/xyz/conf/passwords
COPY scripts/render-conf.sh scripts/gzip-assets.sh /usr/share/xyz/scripts/
# asset version stamps and the .gz copies that gzip_static serves
RUN /usr/share/xyz/scripts/gzip-assets.sh /usr/share/xyz/html

ENV XYZ_PREFIX=/var/lib/xyz-nginx \
    XYZ_MODULE=/usr/lib/nginx/modules/ngx_xyz_module.so \
    XYZ_HTML=/usr/share/xyz/html \
    XYZ_ADDR=0.0.0.0 \
    XYZ_PORT=8080 \
    XYZ_USER="www-data www-data" \
    XYZ_TEMPLATES=/usr/share/xyz/conf/templates \
    XYZ_PASSWORDS=/usr/share/xyz/conf/passwords/common.txt
EXPOSE 8080
STOPSIGNAL SIGQUIT
# At run time give: XYZ_PG_DSN; XYZ_SQS_ENDPOINT, XYZ_SQS_EMAIL_QUEUE,
# XYZ_SQS_EMAIL_DLQ, XYZ_SQS_CRM_QUEUE, XYZ_SQS_CRM_DLQ; XYZ_SMTP_URL;
# XYZ_CRM_URL; XYZ_JWT_KEY (the path of a mounted secret, the same for
# every replica); and AWS credentials the way the platform provides them
# (IRSA, Pod Identity, ECS task role). Production deployments should mount
# their own configuration built from conf/production.conf.example.
CMD ["/bin/sh", "-c", "for v in XYZ_PG_DSN XYZ_SQS_ENDPOINT XYZ_SQS_EMAIL_QUEUE XYZ_SQS_EMAIL_DLQ XYZ_SQS_CRM_QUEUE XYZ_SQS_CRM_DLQ XYZ_SMTP_URL XYZ_CRM_URL XYZ_JWT_KEY; do eval \"test -n \\\"\\$$v\\\"\" || { echo \"set $v\" >&2; exit 1; }; done; /usr/share/xyz/scripts/render-conf.sh >/dev/null && exec nginx -p \"$XYZ_PREFIX/\" -c conf/nginx.conf"]
