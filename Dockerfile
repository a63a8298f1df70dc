# The image of the fleet job (deploy/kubernetes/): spfguard with every provider plugin, the PostgreSQL store,
# DMARC reports and Apprise, installed non-editable from wheels built in the first stage.
#   make image        (docker or podman: tags registry.example.com/spfguard:<version>, the tag the manifests use)
# tests/test_deploy.py lints this file with hadolint and runs its install steps in a clean virtual environment.

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY man ./man
COPY spfguard ./spfguard
COPY providers ./providers
# every wheel the image needs: spfguard, its plugins and all their dependencies (binary wheels: no compiler)
RUN python -m pip wheel --no-cache-dir --disable-pip-version-check --wheel-dir /wheels \
        ".[dmarc,postgresql,apprise]" ./providers/cloudflare ./providers/route53 ./providers/powerdns \
        ./providers/azure ./providers/gcloud ./providers/octodns

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# from the first stage's wheels only (--no-index): nothing is built here, and no compiler is in this stage
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels \
        "spfguard[dmarc,postgresql,apprise]==0.1.0" spfguard-cloudflare==0.1.0 spfguard-route53==0.1.0 \
        spfguard-powerdns==0.1.0 spfguard-azure==0.1.0 spfguard-gcloud==0.1.0 spfguard-octodns==0.1.0
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/spfguard --create-home spfguard
USER 10001:10001
WORKDIR /var/lib/spfguard
ENTRYPOINT ["spfguard"]
CMD ["--help"]
