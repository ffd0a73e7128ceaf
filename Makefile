# Thin wrapper like QEMU's: configure into build/, then let meson/ninja do the work.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps check demo bench clean check-unit check-iotests fuzz

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

deps:
	bash scripts/install-deps.sh

check: deps
	$(MAKE) all
	bash scripts/run-tests.sh $(BUILD)

demo: deps
	$(MAKE) all
	bash scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) all
	bash scripts/bench.sh $(BUILD)

# libFuzzer targets (tests/fuzz), FUZZ_SECONDS each, in build-fuzz/.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
