# One image for every fraudstream service in the compose deployment (producers, KSQL
# init, trainer, scorer, monitoring tables, JupyterLab). The compose file picks the command.
#
# Layers, slowest-changing first: the locked dependencies (TensorFlow is most of the
# image) come before the code, so editing the code rebuilds only the last layers.
# Every path a container writes exists in the image and belongs to the runtime user
# (tests/unit/deploy/test_image_paths.py checks this against docker-compose.yml): a named
# volume mounted there starts as a copy of it, owner included.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

# The runtime user's uid: 1000 is the first user of most Linux desktops, so the bind-mounted
# notebooks/ folder is writable from JupyterLab; build with APP_UID=$(id -u) otherwise.
ARG APP_UID=1000
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements/image.lock requirements/image.lock
RUN pip install --no-cache-dir -r requirements/image.lock

COPY pyproject.toml setup.py README.md ./
COPY fraudstream ./fraudstream
COPY producers ./producers
COPY trainer ./trainer
COPY scorer ./scorer
COPY monitor ./monitor
COPY console ./console
COPY embedded ./embedded
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && rm -rf build
COPY ksql ./ksql

RUN useradd --create-home --uid "${APP_UID}" --user-group fraudstream \
 && install -d -o fraudstream -g fraudstream /artifacts /home/fraudstream/notebooks
USER fraudstream
ENTRYPOINT ["fraudstream"]
CMD ["--help"]
