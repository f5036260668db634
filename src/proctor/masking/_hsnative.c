/*
 * proctor.masking._hsnative: Hyperscan's block-mode scan with the matches collected in C.
 *
 * The `hyperscan` Python package calls a Python function for every match, and around each
 * call takes the GIL back (it scans with the GIL released): on text where triggers fire
 * often (card numbers: several trigger ends per number) that cost more than the scan. This
 * module compiles the same expressions with the system's libhs and returns every match as
 * one list of (end offset, id) pairs, sorted, with the ids a caller does not want left out.
 * It is glue, not a matcher: the matching is libhs's, and `proctor.masking.scanner` uses it
 * only where its results equal the package's (tests/unit/masking/test_native_hits.py).
 *
 * Built by scripts/build-accel.py when libhs's headers are installed (Debian:
 * libhyperscan-dev); without it the scanner uses the `hyperscan` package alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <limits.h>
#include <stdlib.h>

#include <hs/hs.h>

typedef struct {
    unsigned long long to;
    unsigned int id;
} Hit;

typedef struct {
    Hit *hits;
    size_t count;
    size_t capacity;
    const unsigned char *active; /* by id: 0 = leave out; NULL = keep all */
    size_t active_len;
    int out_of_memory;
} Collector;

typedef struct {
    PyObject_HEAD
    hs_database_t *db;
    hs_scratch_t *scratch;
    PyThread_type_lock lock; /* one scan at a time per scratch; taken without the GIL */
} Database;

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *context) {
    (void)from;
    (void)flags;
    Collector *c = (Collector *)context;
    if (c->active != NULL && (id >= c->active_len || !c->active[id])) {
        return 0;
    }
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 256;
        Hit *grown = realloc(c->hits, capacity * sizeof(Hit));
        if (grown == NULL) {
            c->out_of_memory = 1;
            return 1; /* stop the scan */
        }
        c->hits = grown;
        c->capacity = capacity;
    }
    c->hits[c->count].to = to;
    c->hits[c->count].id = id;
    c->count++;
    return 0;
}

static int hit_order(const void *a, const void *b) {
    const Hit *x = (const Hit *)a, *y = (const Hit *)b;
    if (x->to != y->to) {
        return x->to < y->to ? -1 : 1;
    }
    return x->id < y->id ? -1 : (x->id > y->id);
}

static void Database_dealloc(Database *self) {
    if (self->scratch != NULL) {
        hs_free_scratch(self->scratch);
    }
    if (self->db != NULL) {
        hs_free_database(self->db);
    }
    if (self->lock != NULL) {
        PyThread_free_lock(self->lock);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Database_init(Database *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"expressions", "ids", "flags", NULL};
    PyObject *oexpr, *oids, *oflags;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO", kwlist, &oexpr, &oids, &oflags)) {
        return -1;
    }
    if (self->db != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database is already initialized");
        return -1;
    }
    PyObject *expr = PySequence_Fast(oexpr, "expressions must be a sequence of bytes");
    PyObject *ids = expr ? PySequence_Fast(oids, "ids must be a sequence of int") : NULL;
    PyObject *flags = ids ? PySequence_Fast(oflags, "flags must be a sequence of int") : NULL;
    int result = -1;
    const char **patterns = NULL;
    unsigned int *pattern_ids = NULL, *pattern_flags = NULL;
    if (flags == NULL) {
        goto done;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(expr);
    if (n == 0 || PySequence_Fast_GET_SIZE(ids) != n || PySequence_Fast_GET_SIZE(flags) != n) {
        PyErr_SetString(PyExc_ValueError, "expressions, ids and flags: same non-zero length");
        goto done;
    }
    patterns = PyMem_Calloc((size_t)n, sizeof(char *));
    pattern_ids = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    pattern_flags = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    if (patterns == NULL || pattern_ids == NULL || pattern_flags == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(expr, i);
        if (!PyBytes_Check(e)) {
            PyErr_SetString(PyExc_TypeError, "expressions must be bytes");
            goto done;
        }
        patterns[i] = PyBytes_AS_STRING(e); /* NUL-terminated; kept alive by expr */
        unsigned long id = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(ids, i));
        unsigned long flag = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(flags, i));
        if (PyErr_Occurred()) {
            goto done;
        }
        if (id > UINT_MAX || flag > UINT_MAX) { /* libhs takes 32 bits: never truncate */
            PyErr_SetString(PyExc_OverflowError, "ids and flags must fit in 32 bits");
            goto done;
        }
        pattern_ids[i] = (unsigned int)id;
        pattern_flags[i] = (unsigned int)flag;
    }
    hs_compile_error_t *error = NULL;
    /* Tuned for this CPU (as the hyperscan package does): a generic database runs its
     * literal matching ~1.5x slower here. The database is never stored or moved. */
    hs_platform_info_t platform;
    hs_error_t err = hs_populate_platform(&platform);
    if (err == HS_SUCCESS) {
        err = hs_compile_multi(patterns, pattern_flags, pattern_ids, (unsigned int)n,
                               HS_MODE_BLOCK, &platform, &self->db, &error);
    }
    if (err != HS_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "expression %d: %s", error ? error->expression : -1,
                     error ? error->message : "compile failed");
        hs_free_compile_error(error);
        self->db = NULL;
        goto done;
    }
    if (hs_alloc_scratch(self->db, &self->scratch) != HS_SUCCESS) {
        PyErr_SetString(PyExc_MemoryError, "could not allocate Hyperscan scratch space");
        goto done;
    }
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    result = 0;
done:
    PyMem_Free(patterns);
    PyMem_Free(pattern_ids);
    PyMem_Free(pattern_flags);
    Py_XDECREF(expr);
    Py_XDECREF(ids);
    Py_XDECREF(flags);
    return result;
}

static PyObject *Database_hits(Database *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"data", "active", NULL};
    Py_buffer data, active = {0};
    PyObject *oactive = Py_None;
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Database is not initialized");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|O", kwlist, &data, &oactive)) {
        return NULL;
    }
    Collector c = {0};
    int have_active = 0;
    if (oactive != Py_None) {
        if (PyObject_GetBuffer(oactive, &active, PyBUF_SIMPLE) != 0) {
            PyBuffer_Release(&data);
            return NULL;
        }
        have_active = 1;
        c.active = (const unsigned char *)active.buf;
        c.active_len = (size_t)active.len;
        if (c.active == NULL) {
            c.active = (const unsigned char *)""; /* empty: every id left out */
        }
    }
    if (data.len > 0xFFFFFFFFLL) {
        PyErr_SetString(PyExc_ValueError, "data longer than 4 GiB");
        goto fail;
    }
    hs_error_t err;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    err = hs_scan(self->db, (const char *)data.buf, (unsigned int)data.len, 0, self->scratch,
                  on_match, &c);
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    if (c.out_of_memory) {
        PyErr_NoMemory();
        goto fail;
    }
    if (err != HS_SUCCESS) {
        PyErr_Format(PyExc_RuntimeError, "Hyperscan scan failed (error %d)", (int)err);
        goto fail;
    }
    /* Reported by end offset nearly always in order: sort only when not. */
    for (size_t i = 1; i < c.count; i++) {
        if (hit_order(&c.hits[i - 1], &c.hits[i]) > 0) {
            qsort(c.hits, c.count, sizeof(Hit), hit_order);
            break;
        }
    }
    PyObject *out = PyList_New((Py_ssize_t)c.count);
    if (out == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < c.count; i++) {
        PyObject *pair = Py_BuildValue("(KI)", c.hits[i].to, c.hits[i].id);
        if (pair == NULL) {
            Py_DECREF(out);
            goto fail;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, pair);
    }
    free(c.hits);
    PyBuffer_Release(&data);
    if (have_active) {
        PyBuffer_Release(&active);
    }
    return out;
fail:
    free(c.hits);
    PyBuffer_Release(&data);
    if (have_active) {
        PyBuffer_Release(&active);
    }
    return NULL;
}

static PyMethodDef Database_methods[] = {
    {"hits", (PyCFunction)(void (*)(void))Database_hits, METH_VARARGS | METH_KEYWORDS,
     "hits(data, active=None) -> list[tuple[int, int]]\n\n"
     "(end offset, id) of every match in data, sorted; with active (bytes by id), only\n"
     "the ids whose byte is not 0."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DatabaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "proctor.masking._hsnative.Database",
    .tp_basicsize = sizeof(Database),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Database(expressions, ids, flags): block-mode expressions compiled by libhs.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Database_init,
    .tp_dealloc = (destructor)Database_dealloc,
    .tp_methods = Database_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "proctor.masking._hsnative",
    .m_doc = "Hyperscan block scans with the matches collected in C.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__hsnative(void) {
    if (hs_valid_platform() != HS_SUCCESS) {
        PyErr_SetString(PyExc_ImportError, "this CPU cannot run Hyperscan");
        return NULL;
    }
    if (PyType_Ready(&DatabaseType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    /* PyModule_AddObjectRef leaves the caller's reference alone, success or not. */
    if (PyModule_AddObjectRef(m, "Database", (PyObject *)&DatabaseType) < 0 ||
        PyModule_AddIntConstant(m, "CASELESS", HS_FLAG_CASELESS) < 0 ||
        PyModule_AddStringConstant(m, "HS_VERSION", hs_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
