# Makefile — the index of the project's commands; each target calls one script.
#
#   make            build the module (build/ngx_xyz_module.so)
#   make run        run nginx + PostgreSQL locally (Ctrl-C stops both)
#   make test       run the test suites against a fresh database, then a chosen
#                   set of them under the sanitizers (test-asan, XYZ_ASAN_CI)
#   make test-asan  every suite against nginx and the module built with ASan+UBSan
#   make test-faults  faults under load: every fault kind five times, the table
#   make bench      run the benchmarks
#   make bench-crm  the CRM drain benchmark: three dispatchers, the fake CRM's rate cap
#   make bench-cluster  the image as 3 web + 2 dispatcher instances, one killed mid-run
#   make bench-journey  the whole journey of N users (page, register, email, confirm, log in)
#   make bench-open     open-loop (fixed arrival rate) registration latency
#   make bench-runtime  Argon2id in libsodium, Node and Java; the module against a Node service
#   make fuzz       run every libFuzzer harness (FUZZ_SECONDS each, default 600)
#   make screenshots  PNG pictures of the front end's pages into docs/screenshots/
#   make diagrams   SVG and PNG of the solution document's Mermaid diagrams (docs/diagrams/)
#   make image      build the container image with podman (scripts/image.sh)
#   make deps       install missing Debian (and npm) packages
#   make migrate    apply sql/ migrations to the local `xyz` database
#   make pg-start   start the private PostgreSQL cluster
#   make pg-stop    stop it
#   make clean      remove build output
#
# NGINX_SRC=/path/to/nginx-x.y.z make build   builds against upstream sources instead
# (output in build/upstream/).

.PHONY: all build run test test-asan test-faults bench bench-sqs bench-crm bench-cluster \
	bench-journey bench-open bench-runtime fuzz image screenshots diagrams deps clean pg-start \
	pg-stop migrate

all: build

build:
	scripts/build.sh

run:
	scripts/run.sh

test:
	scripts/test.sh
	XYZ_ASAN_CI=1 scripts/test-asan.sh

test-faults:
	scripts/test-faults.sh

bench:
	scripts/bench.sh

bench-sqs:
	scripts/bench-sqs.sh

bench-crm:
	scripts/bench-crm.sh

bench-cluster:
	scripts/bench-cluster.sh

bench-journey:
	scripts/bench-journey.sh

bench-open:
	scripts/bench-open.sh

bench-runtime:
	scripts/bench-runtime.sh

fuzz:
	scripts/deps.sh
	scripts/fuzz.sh

screenshots:
	scripts/deps.sh
	node scripts/screenshots.mjs

diagrams:
	scripts/deps.sh
	node scripts/diagrams.mjs

deps:
	scripts/deps.sh

image:
	scripts/deps.sh
	scripts/image.sh

clean:
	rm -rf build

pg-start:
	scripts/pg.sh start

pg-stop:
	scripts/pg.sh stop

migrate:
	scripts/migrate.sh

test-asan:
	scripts/test-asan.sh
