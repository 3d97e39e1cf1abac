# Makefile — the index of the project's commands; each target calls one script.
#
#   make            build the module (build/ngx_xyz_module.so)
#   make run        run nginx + PostgreSQL locally (Ctrl-C stops both)
#   make test       run the test suites against a fresh database, then again
#                   under the sanitizers (test-asan, XYZ_ASAN_CI)
#   make test-asan  the suites against nginx and the module built with ASan+UBSan
#   make bench      run the benchmarks
#   make bench-crm  the CRM drain benchmark: three dispatchers, the fake CRM's rate cap
#   make fuzz       run every libFuzzer harness (FUZZ_SECONDS each, default 600)
#   make screenshots  PNG pictures of the front end's pages into docs/screenshots/
#   make deps       install missing Debian (and npm) packages
#   make migrate    apply sql/ migrations to the local `xyz` database
#   make pg-start   start the private PostgreSQL cluster
#   make pg-stop    stop it
#   make clean      remove build output
#
# NGINX_SRC=/path/to/nginx-x.y.z make build   builds against upstream sources instead
# (output in build/upstream/).

.PHONY: test-asan fuzz bench-sqs all build run test bench bench-crm screenshots deps clean pg-start pg-stop migrate

all: build

build:
	scripts/build.sh

run:
	scripts/run.sh

test:
	scripts/test.sh
	XYZ_ASAN_CI=1 scripts/test-asan.sh

bench:
	scripts/bench.sh

bench-sqs:
	scripts/bench-sqs.sh

bench-crm:
	scripts/bench-crm.sh

fuzz:
	scripts/deps.sh
	scripts/fuzz.sh

screenshots:
	scripts/deps.sh
	node scripts/screenshots.mjs

deps:
	scripts/deps.sh

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
