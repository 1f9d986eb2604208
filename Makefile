# make install: puts rootmirror, internic's key, the data directory and the
# service files in place, and activates nothing (see README.md, "Services").
# Safe to run again: identical files are left as they are (install -C), and
# data.cdb and the files in the service's env/ are never overwritten.
#
#   make install                      build (release, static stdlib) and install it stripped
#   make install DESTDIR=/tmp/root    stage under /tmp/root: no account is made
#   make install BINARY=path/rootmirror   install this binary instead of building
#   make fuzz SECONDS=60              build the libFuzzer targets, run each 60 s
#
# make deb: rootmirror_VERSION_amd64.deb in DEBDIR (.build/deb), from the
# release binary or BINARY=, with the control files of service/debian/.
# The version is the binary's own unless given (make deb DEB_VERSION=0.1.0-2).
# make man: regenerates service/man/rootmirror.8 from the argument
# definitions (swift-argument-parser's generate-manual) and the hand-written
# sections in service/man/rootmirror.8.tail; run it after changing options.
#
# PREFIX, DATADIR and SVDIR are where things end up on the host; the service
# files name /usr/local/bin and /var/lib/rootmirror, so change those in
# service/ too if you change PREFIX or DATADIR.

PREFIX  ?= /usr/local
DATADIR ?= /var/lib/rootmirror
SVDIR   ?= /etc/sv/rootmirror
ACCOUNT ?= rootmirror
DESTDIR ?=
# An account is made only for a real install; `make install ADDUSER=no` skips it.
ADDUSER ?= $(if $(DESTDIR),no,yes)

SHARE    = $(PREFIX)/share/rootmirror
UNITDIR  = $(PREFIX)/lib/systemd/system
INSTALL  = install -C
STRIPPED = .build/install/rootmirror

DEBDIR  ?= .build/deb
DEB_VERSION ?=

# Without BINARY, build the release binary first (incremental: quick when up to date).
ifeq ($(origin BINARY),undefined)
BINARY = .build/release/rootmirror
install deb: build
endif

.PHONY: install build deb man fuzz
install:
	@if [ "$(ADDUSER)" = yes ] && ! getent passwd $(ACCOUNT) >/dev/null; then \
		echo "adding system account $(ACCOUNT)"; \
		useradd --system --user-group --home-dir $(DATADIR) --no-create-home \
			--shell /usr/sbin/nologin --comment "rootmirror DNS root mirror" $(ACCOUNT); \
	fi
	@# Stripped, without the build's RUNPATH, into .build first: install -C
	@# cannot strip, and an unchanged binary must stay untouched.
	service/strip-binary $(BINARY) $(STRIPPED)
	$(INSTALL) -D -m 0755 $(STRIPPED) $(DESTDIR)$(PREFIX)/bin/rootmirror
	$(INSTALL) -D -m 0644 zones/internic-registry-admin.asc $(DESTDIR)$(SHARE)/internic-registry-admin.asc
	$(INSTALL) -D -m 0644 zones/root-anchors.xml $(DESTDIR)$(SHARE)/root-anchors.xml
	$(INSTALL) -D -m 0644 service/cron.d/rootmirror $(DESTDIR)$(SHARE)/cron.d/rootmirror
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(UNITDIR) service/systemd/rootmirror.service \
		service/systemd/rootmirror-refresh.service service/systemd/rootmirror-refresh.timer
	$(INSTALL) -D -m 0755 service/daemontools/rootmirror/run $(DESTDIR)$(SVDIR)/run
	$(INSTALL) -D -m 0755 service/daemontools/rootmirror/log/run $(DESTDIR)$(SVDIR)/log/run
	@# Settings are the operator's: a file already there is kept as edited.
	@for f in service/daemontools/rootmirror/env/*; do \
		t=$(DESTDIR)$(SVDIR)/env/$${f##*/}; \
		[ -e "$$t" ] || $(INSTALL) -D -m 0644 "$$f" "$$t"; \
	done
	@# The data directory and the log belong to the account; data.cdb is left alone.
	install -d -m 0755 $(DESTDIR)$(DATADIR) $(DESTDIR)$(SVDIR)/log/main
	@if [ "$(ADDUSER)" = yes ]; then \
		chown $(ACCOUNT):$(ACCOUNT) $(DESTDIR)$(DATADIR) $(DESTDIR)$(SVDIR)/log/main; \
	fi

build:
	swift build -c release -Xswiftc -static-stdlib

deb:
	service/debian/build-deb $(BINARY) $(DEBDIR) $(DEB_VERSION)

# The generated page ends with its own EXIT STATUS and an empty AUTHORS;
# the hand-written sections take their place. Blank lines (between the
# paragraphs of a command's discussion) become .Pp, as mdoc wants.
MANDATE = $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
man:
	swift package plugin generate-manual --configuration debug --section 8 --date $(MANDATE)
	sed -e '/^\.Sh "EXIT STATUS"/,$$d' -e 's/^$$/.Pp/' .build/plugins/GenerateManual/outputs/RootMirrorCLI/rootmirror.8 \
		| cat - service/man/rootmirror.8.tail > service/man/rootmirror.8

# Fuzzing (README.md, "Fuzzing"): each target of fuzz/ (a package of its
# own, built with libFuzzer and AddressSanitizer) runs for SECONDS on its
# seed corpus in fuzz/corpus/NAME plus what earlier runs found
# (.build/fuzz-corpus/NAME); a crash stops that target, its input is left
# in fuzz/crashes/NAME/, and make fails once every target has run. Swift's
# own crash backtracer is off, so that libFuzzer sees the crash and saves it.
SECONDS ?= 60
FUZZERS  = Responder ZoneFile DataStore Transfer StateFiles TSIG
FUZZBIN  = fuzz/.build/release

fuzz:
	swift build --package-path fuzz -c release -Xswiftc -sanitize=fuzzer,address
	@failed=""; for f in $(FUZZERS); do \
		name=$$(echo $$f | tr A-Z a-z); \
		mkdir -p .build/fuzz-corpus/$$name fuzz/crashes/$$name; \
		echo "== fuzz $$name, $(SECONDS) s"; \
		SWIFT_BACKTRACE=enable=no $(FUZZBIN)/Fuzz$$f -max_total_time=$(SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=fuzz/crashes/$$name/ .build/fuzz-corpus/$$name fuzz/corpus/$$name \
			> .build/fuzz-$$name.log 2>&1 || failed="$$failed $$name"; \
		grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE|ERROR|SUMMARY" .build/fuzz-$$name.log | head -8; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crash in$$failed (inputs in fuzz/crashes/, logs in .build/fuzz-*.log)"; exit 1; fi

