# One image for every fraudstream service in the compose deployment (producer, ksql
# init, trainer, scorer, monitor). The compose file picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fraudstream ./fraudstream
COPY producers ./producers
COPY trainer ./trainer
COPY scorer ./scorer
COPY monitor ./monitor
COPY embedded ./embedded
RUN pip install --no-cache-dir .
COPY ksql ./ksql
RUN useradd --create-home --uid 10001 fraudstream
USER fraudstream
ENTRYPOINT ["fraudstream"]
CMD ["--help"]
