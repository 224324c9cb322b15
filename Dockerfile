# pgvault's image: the app on the official Azure Functions Node image, plus the newest PostgreSQL client (pg_dump
# must be at least as new as every server it dumps; it reads every older server back to 9.2). Node 22, because the
# Functions Node 20 image is built on Debian 11, whose support (and apt.postgresql.org's packages for it) ended.
# Build: docker build -t pgvault .    (azd up builds and pushes it; see docs/deploy.md)

# The TypeScript build, with dev dependencies; only its output and the production dependencies are kept.
FROM mcr.microsoft.com/azure-functions/node:4-node22 AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Dependencies' install scripts are not needed to compile (the only approved one belongs to a test dependency).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY functions functions
COPY orchestrators orchestrators
COPY activities activities
COPY shared shared
COPY local-host local-host
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM mcr.microsoft.com/azure-functions/node:4-node22
# The newest PostgreSQL major whose client is packaged by apt.postgresql.org; raise it when a new major ships
# (docs/deploy.md, "Upgrade"), before protecting a server of that major.
ARG PG_MAJOR=18
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    . /etc/os-release; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    # zstd: the program backups are compressed with, on all cores (shared/compression/compressionStreams.ts).
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" zstd; \
    apt-get purge -y curl; \
    apt-get autoremove -y; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_restore" --version; \
    zstd --version; \
    # ca-certificates is the system CA store that verify-full checks servers against (PG_SSL_ROOT_CERT's default):
    # it must carry the roots Azure Database for PostgreSQL chains to, DigiCert Global Root G2 and Microsoft RSA Root
    # Certificate Authority 2017 (and DigiCert Global Root CA, which Azure China still uses), per "Networking with
    # TLS" (https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-networking-ssl-tls).
    for root in DigiCert_Global_Root_G2 Microsoft_RSA_Root_Certificate_Authority_2017 DigiCert_Global_Root_CA; do \
      test -s "/etc/ssl/certs/${root}.pem"; \
    done

# PG_BIN_DIR is not set: the app takes the newest /usr/lib/postgresql/<major>/bin (shared/config.ts).
ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true

WORKDIR /home/site/wwwroot
COPY host.json package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
