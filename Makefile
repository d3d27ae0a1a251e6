# Two commands do all the setup: `make report` (run the whole course into
# reports/) and `make test`. Each creates or reuses .venv and installs cnnlib.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= full
# pytest-xdist workers for `make test`; each notebook's cells stay in order on one worker (loadscope)
TEST_WORKERS ?= 2

.PHONY: report test lab doctor student clean-reports

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

report: $(STAMP)  ## execute every notebook into reports/ (PROFILE=full by default)
	$(PY) -m cnnlib run --profile $(PROFILE) --out reports/

test: $(STAMP)    ## unit tests, every notebook under papermill (smoke), nbval on committed outputs
	CNNLIB_PROFILE=smoke CNNLIB_EXERCISES_STRICT=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

lab: $(STAMP)     ## open the course in JupyterLab
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-2} MALLOC_MMAP_THRESHOLD_=$${MALLOC_MMAP_THRESHOLD_:-1048576} TF_ENABLE_ONEDNN_OPTS=$${TF_ENABLE_ONEDNN_OPTS:-1} $(VENV)/bin/jupyter lab notebooks/

student: $(STAMP) ## write the student edition (no solutions, no outputs) into student/
	$(PY) -m cnnlib student --out student/

doctor: $(STAMP)  ## preflight check of Python, TensorFlow, the kernel and the datasets
	$(PY) -m cnnlib doctor

clean-reports:
	rm -rf reports/
