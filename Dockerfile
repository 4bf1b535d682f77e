# syntax=docker/dockerfile:1
# mqtk in a container: a static (musl) build on Alpine, run from a distroless image (CA
# certificates, no shell, no libc) as an unprivileged user.
#
#   docker build -t mqtk .
#   docker run --rm --network host mqtk sub -h localhost -t 'sensors/#' -v

FROM rust:1.95-alpine AS build
WORKDIR /src
# Only what the build reads: scripts/install-check builds and installs mqtk from these alone.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && mkdir /out && cp target/release/mqtk /out/mqtk

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mqtk /usr/local/bin/mqtk
# The image has no libc and no shell: this fails unless the binary is static.
RUN ["/usr/local/bin/mqtk", "--version"]
# distroless's "nonroot" user, by number so that runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["mqtk"]
