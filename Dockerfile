# kycvs: a static binary on a minimal base image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kycvs ./cmd/kycvs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kycvs /usr/local/bin/kycvs
USER nonroot:nonroot
EXPOSE 8080
ENV KYCVS_ADDR=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/kycvs"]
CMD ["serve"]
