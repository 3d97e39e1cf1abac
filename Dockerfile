# Dockerfile — nginx with ngx_xyz_module, on Debian 12.
#
#   make image                          (podman, no Docker engine needed)
#   docker build -t xyz-signup .        (the same, where a Docker engine exists)
#
# Stage 1 builds the module exactly as scripts/build.sh does locally (against
# Debian's nginx-dev with Debian's configure flags); stage 2 is a slim runtime
# with nginx, the module's shared libraries, the front end, the migrations and
# psql; no compiler, no documentation, no apt lists.
#
# At start deploy/image/xyz-entrypoint renders the production configuration
# from environment variables (XYZ_ROLE=web|dispatcher|all, see that file and
# README "Container image") and runs nginx in the foreground as an
# unprivileged user, logging to stdout/stderr. /healthz is the liveness
# probe, /readyz the readiness probe (database and credentials).
# `xyz-migrate` applies sql/ (run it as a one-off task before a release).

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx nginx-dev build-essential \
        libpq-dev libsodium-dev libyajl-dev libcurl4-openssl-dev libssl-dev \
        postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY config ./config
COPY ngx_xyz_module ./ngx_xyz_module
COPY scripts/build.sh ./scripts/build.sh
RUN scripts/build.sh

FROM debian:bookworm
ARG DEBIAN_FRONTEND=noninteractive
# Keep documentation, manual pages and translations out of the image.
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
        'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
        'path-exclude /usr/share/lintian/*' > /etc/dpkg/dpkg.cfg.d/01-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx libpq5 libsodium23 libyajl2 libcurl4 libreadline8 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && rm -f /etc/nginx/sites-enabled/default \
 && groupadd --gid 10001 xyz \
 && useradd --uid 10001 --gid xyz --home-dir /var/lib/xyz --no-create-home \
        --shell /usr/sbin/nologin xyz \
 && install -d -o xyz -g xyz -m 0750 /var/lib/xyz
# psql only, for xyz-migrate: the client package would bring Perl along.
COPY --from=build /usr/lib/postgresql/15/bin/psql /usr/local/bin/psql
COPY --from=build /src/build/ngx_xyz_module.so /usr/lib/nginx/modules/ngx_xyz_module.so
COPY html /usr/share/xyz/html
COPY conf/security-headers.conf /usr/share/xyz/conf/
COPY conf/templates /usr/share/xyz/conf/templates
COPY conf/passwords /usr/share/xyz/conf/passwords
COPY sql /usr/share/xyz/sql
COPY scripts/migrate.sh scripts/gzip-assets.sh /usr/share/xyz/scripts/
COPY deploy/image/xyz-entrypoint deploy/image/xyz-migrate /usr/local/bin/
# asset version stamps and the .gz copies that gzip_static serves
RUN /usr/share/xyz/scripts/gzip-assets.sh /usr/share/xyz/html >/dev/null

ENV XYZ_PREFIX=/var/lib/xyz
USER 10001:10001
WORKDIR /var/lib/xyz
EXPOSE 8080
# nginx's graceful stop: in-flight requests and batches finish, nothing is lost
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/xyz-entrypoint"]
CMD ["run"]
