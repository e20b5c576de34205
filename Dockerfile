# One image for the API, the worker and the sandbox: the command picks the role
# (docker-compose.yml runs `api`, `worker` and `sandbox` from it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies first, in a layer of their own: a change of code does not reinstall them.
# Exactly the versions and hashes of requirements.lock (written by `make lock`). No extras: the
# image runs in production mode on real MongoDB and Redis (the `embedded` extra's servers are for
# `orders-service dev` only; docs/adr/0008-orders-mode.md).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
# The vendor simulator (`orders-service sandbox`), the dev stack's supervisor (`orders-service
# dev`) and the in-process pipeline of `orders-service simulate`: every command is registered at
# start, so all three are in the image (the embedded servers' packages are not).
COPY sandbox ./sandbox
COPY devstack ./devstack
COPY testkit ./testkit
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 --user-group orders

# Never root at run time.
USER orders

EXPOSE 8000 8010
ENTRYPOINT ["orders-service"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
