# Thin wrapper like QEMU's: configure into build/, then let meson/ninja do the work.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps check demo bench clean check-unit check-iotests fuzz soak

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

# Soak of the NBD export (LUKS1 + LUKS2, unix + TCP), SOAK_SECONDS long.
SOAK_SECONDS ?= 300
soak: deps
	$(MAKE) all
	bash scripts/soak.sh $(SOAK_SECONDS) $(BUILD)

clean:
	rm -rf $(BUILD)
