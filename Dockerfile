# One image for every devnet service (docker-compose.yml): anvil from npm, the relayer, the
# compiled contracts. `make compile` installs the pinned npm and Python dependencies itself.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends make nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN make compile PY=python3
ENV PATH=/app/.venv/bin:/app/node_modules/.bin:$PATH
ENTRYPOINT ["xmargin"]
