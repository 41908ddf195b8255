# syntax=docker/dockerfile:1
#
# The kollacfg image: one statically linked binary on a distroless base, running the
# controller (`kollacfg run`) as a non-root user.
#
#   docker build -t kollacfg:dev .
#
# docs/image.md describes the image; tests/tools/static-build.sh runs this file's cargo build
# command on the host and checks the binary is static (no container engine needed).

# The toolchain the project is built and tested with (rust-version in Cargo.toml is the floor),
# on Debian 12 like the machines the tests run on.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .

# Statically linked against glibc (`+crt-static`) rather than built for musl: it needs nothing
# beyond the toolchain in this image, so the exact command below also runs on any
# x86_64/aarch64 Debian host with a stock rustup toolchain (where the musl target is often not
# installed), and the binary is the same code the test suite exercises. Nothing in kollacfg
# needs a shared library: TLS is rustls with ring (no OpenSSL), the API server is reached by
# the IP in KUBERNETES_SERVICE_HOST, and glibc 2.34+ resolves names from /etc/hosts and DNS
# without loading NSS modules. `--target` keeps the flag off build scripts and proc macros,
# which must stay dynamic. The triple is the builder's own, so `docker buildx --platform`
# builds arm64 the same way.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS='-C target-feature=+crt-static' cargo build --locked --release --package kollacfg --bin kollacfg --target "$(rustc -vV | sed -n 's/^host: //p')"
RUN --mount=type=cache,target=/src/target \
    cp "target/$(rustc -vV | sed -n 's/^host: //p')/release/kollacfg" /kollacfg

# Distroless "static": no shell, no libc; CA certificates, /etc/passwd with the nonroot user,
# /etc/nsswitch.conf and time zone data.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kollacfg" \
      org.opencontainers.image.description="Renders typed, validated kolla configuration resources into Secrets and ConfigMaps (kollacfg run)" \
      org.opencontainers.image.source="https://github.com/kollacfg/kollacfg" \
      org.opencontainers.image.url="https://github.com/kollacfg/kollacfg" \
      org.opencontainers.image.documentation="https://github.com/kollacfg/kollacfg/blob/main/docs/image.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=build /kollacfg /kollacfg

# nonroot (65532) by number, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# /healthz, /readyz and /metrics (--metrics-addr, default 0.0.0.0:8080).
EXPOSE 8080
ENTRYPOINT ["/kollacfg"]
CMD ["run"]
