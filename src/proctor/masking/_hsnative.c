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
 * Two triggers are matched here instead, in C, because this libhs (Debian's 5.4.0, no
 * AVX2 paths) runs them slowly: the card trigger and the IBAN trigger, bounded repeats of
 * digit and letter classes with no literal to anchor on, took ~60% of a database of 21
 * triggers on rows holding card numbers (~300 of ~540 us per 64 KB) and ~75% on plain text.
 * Their every end offset is found from the digit runs of the data (each of their matches
 * ends in or just after one), exactly the (end, id) pairs libhs reports for them: tests
 * compare both with the `hyperscan` package on generated buffers. `CARD_TRIGGER` and
 * `IBAN_TRIGGER` are the expressions emulated; native_hits.py hands a trigger over only
 * when it is that very text.
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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    int ready;
    long long card_id, iban_id; /* emulated triggers' ids, -1: none */
    hs_database_t *db;          /* NULL when every trigger is emulated */
    hs_scratch_t *scratch;
    PyThread_type_lock lock; /* one scan at a time per scratch; taken without the GIL */
} Database;

static int collect(Collector *c, unsigned long long to, unsigned int id) {
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

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *context) {
    (void)from;
    (void)flags;
    return collect((Collector *)context, to, id);
}

/* --- the emulated triggers ----------------------------------------------------------- */

#define CARD_TRIGGER "\\d{4}[ -]?\\d{4}[ -]?\\d{4}|\\d{4}[ -]\\d{6}[ -]\\d{4}"
#define IBAN_TRIGGER "[A-Z]{2}\\d{2}[ ]?[A-Z0-9]{4}[ ]?[A-Z0-9]{4}"

typedef const unsigned char *Text;

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline int is_sep(unsigned char c) { return c == ' ' || c == '-'; }

/* k digits ending at q (t[q-k:q]) */
static inline int digits_ending(Text t, size_t q, size_t k) {
    if (q < k) {
        return 0;
    }
    for (size_t i = q - k; i < q; i++) {
        if (!is_digit(t[i])) {
            return 0;
        }
    }
    return 1;
}

/* Whether a match of CARD_TRIGGER ends at e (given: four digits end there). */
static int card_trigger_ends_at(Text t, size_t e) {
    size_t p = e - 4;
    /* \d{4}[ -]?\d{4}[ -]?\d{4}: each separator there or not */
    for (int s1 = 0; s1 <= 1; s1++) {
        if (s1 && (p < 1 || !is_sep(t[p - 1]))) {
            continue;
        }
        size_t q = p - (size_t)s1;
        if (!digits_ending(t, q, 4)) {
            continue;
        }
        size_t r = q - 4;
        for (int s2 = 0; s2 <= 1; s2++) {
            if (s2 && (r < 1 || !is_sep(t[r - 1]))) {
                continue;
            }
            if (digits_ending(t, r - (size_t)s2, 4)) {
                return 1;
            }
        }
    }
    /* \d{4}[ -]\d{6}[ -]\d{4} */
    return p >= 12 && is_sep(t[p - 1]) && digits_ending(t, p - 1, 6) && is_sep(t[p - 8]) &&
           digits_ending(t, p - 8, 4);
}

static inline int is_alnum_upper(unsigned char c) { return is_digit(c) || is_upper(c); }

/* Where [A-Z0-9]{4} after an optional space ([ ]?, taken when `spaced`) ends, from p; 0 when
 * it does not match there. */
static size_t spaced_alnum4(Text t, size_t n, size_t p, int spaced) {
    if (spaced) {
        if (p >= n || t[p] != ' ') {
            return 0;
        }
        p++;
    }
    if (p + 4 > n || !is_alnum_upper(t[p]) || !is_alnum_upper(t[p + 1]) ||
        !is_alnum_upper(t[p + 2]) || !is_alnum_upper(t[p + 3])) {
        return 0;
    }
    return p + 4;
}

/* The ends of IBAN_TRIGGER's matches starting at s (two capitals, two digits there), into
 * ends[] (at most 4, ascending, distinct); returns how many. */
static int iban_trigger_ends_from(Text t, size_t n, size_t s, size_t *ends) {
    int count = 0;
    for (int s1 = 0; s1 <= 1; s1++) {
        size_t p = spaced_alnum4(t, n, s + 4, s1);
        for (int s2 = 0; p && s2 <= 1; s2++) {
            size_t e = spaced_alnum4(t, n, p, s2);
            int seen = e == 0;
            for (int k = 0; k < count; k++) {
                seen |= ends[k] == e;
            }
            if (!seen) { /* insert in order */
                int k = count++;
                while (k > 0 && ends[k - 1] > e) {
                    ends[k] = ends[k - 1];
                    k--;
                }
                ends[k] = e;
            }
        }
    }
    return count;
}

/* The first digit in t[i:n] (n if none). Most bytes of a result are not digits: sixteen
 * at a time where SSE2 is there (every x86-64). */
static inline size_t next_digit(Text t, size_t n, size_t i) {
#if defined(__SSE2__)
    const __m128i below = _mm_set1_epi8('0' - 1), above = _mm_set1_epi8('9' + 1);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(t + i));
        /* signed compares: bytes from 0x80 up are negative, never digits */
        int mask = _mm_movemask_epi8(
            _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, above)));
        if (mask) {
            return i + (size_t)__builtin_ctz((unsigned)mask);
        }
        i += 16;
    }
#endif
    while (i < n && !is_digit(t[i])) {
        i++;
    }
    return i;
}

/* Every (end, id) of the emulated triggers in t[0:n], each trigger's ascending, to its
 * collector: from each run of digits, the card trigger's ends inside it (its last four
 * digits end there) and the IBAN trigger's from the two capitals before it (successive
 * IBAN starts are at least four apart, so their ends ascend). 1 when out of memory. */
static int emulated_hits(Text t, size_t n, long long card, long long iban, Collector *cards,
                         Collector *ibans) {
    size_t i = 0;
    while (i < n) {
        i = next_digit(t, n, i);
        size_t a = i;
        while (i < n && is_digit(t[i])) {
            i++;
        }
        size_t b = i;
        if (a == b) {
            break;
        }
        if (card >= 0) {
            for (size_t e = a + 4; e <= b; e++) {
                if (e >= 12 && card_trigger_ends_at(t, e) &&
                    collect(cards, e, (unsigned int)card)) {
                    return 1;
                }
            }
        }
        if (iban >= 0 && a >= 2 && b - a >= 2 && is_upper(t[a - 2]) && is_upper(t[a - 1])) {
            size_t ends[4];
            int count = iban_trigger_ends_from(t, n, a - 2, ends);
            for (int k = 0; k < count; k++) {
                if (collect(ibans, ends[k], (unsigned int)iban)) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

static int hit_order(const void *a, const void *b) {
    const Hit *x = (const Hit *)a, *y = (const Hit *)b;
    if (x->to != y->to) {
        return x->to < y->to ? -1 : 1;
    }
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* into->hits and more->hits (each in hit_order) merged into into; 1 when out of memory. */
static int merge_into(Collector *into, const Collector *more) {
    size_t total = into->count + more->count;
    Hit *merged = malloc(total * sizeof(Hit));
    if (merged == NULL) {
        return 1;
    }
    size_t i = 0, j = 0, k = 0;
    while (i < into->count && j < more->count) {
        merged[k++] = hit_order(&into->hits[i], &more->hits[j]) <= 0 ? into->hits[i++]
                                                                      : more->hits[j++];
    }
    while (i < into->count) {
        merged[k++] = into->hits[i++];
    }
    while (j < more->count) {
        merged[k++] = more->hits[j++];
    }
    free(into->hits);
    into->hits = merged;
    into->count = into->capacity = total;
    return 0;
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
    static char *kwlist[] = {"expressions", "ids", "flags", "card", "iban", NULL};
    PyObject *oexpr, *oids, *oflags;
    long long card = -1, iban = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|LL", kwlist, &oexpr, &oids, &oflags, &card,
                                     &iban)) {
        return -1;
    }
    if (self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Database is already initialized");
        return -1;
    }
    if (card < -1 || card > UINT_MAX || iban < -1 || iban > UINT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "ids must fit in 32 bits");
        return -1;
    }
    self->card_id = card;
    self->iban_id = iban;
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
    if (PySequence_Fast_GET_SIZE(ids) != n || PySequence_Fast_GET_SIZE(flags) != n ||
        (n == 0 && card < 0 && iban < 0)) {
        PyErr_SetString(PyExc_ValueError,
                        "expressions, ids and flags: same length, not zero unless emulated");
        goto done;
    }
    if (n == 0) { /* every trigger emulated: no libhs database */
        self->ready = 1;
        result = 0;
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
    self->ready = 1;
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
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Database is not initialized");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|O", kwlist, &data, &oactive)) {
        return NULL;
    }
    Collector c = {0}, cards = {0}, ibans = {0};
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
    cards.active = ibans.active = c.active;
    cards.active_len = ibans.active_len = c.active_len;
    if (data.len > 0xFFFFFFFFLL) {
        PyErr_SetString(PyExc_ValueError, "data longer than 4 GiB");
        goto fail;
    }
    hs_error_t err = HS_SUCCESS;
    int emulated_oom = 0;
    Py_BEGIN_ALLOW_THREADS
    if (self->db != NULL) {
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        err = hs_scan(self->db, (const char *)data.buf, (unsigned int)data.len, 0,
                      self->scratch, on_match, &c);
        PyThread_release_lock(self->lock);
    }
    if (err == HS_SUCCESS && !c.out_of_memory && (self->card_id >= 0 || self->iban_id >= 0)) {
        emulated_oom = emulated_hits((Text)data.buf, (size_t)data.len, self->card_id,
                                     self->iban_id, &cards, &ibans);
    }
    Py_END_ALLOW_THREADS
    if (c.out_of_memory || emulated_oom) {
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
    if ((cards.count && merge_into(&c, &cards)) || (ibans.count && merge_into(&c, &ibans))) {
        PyErr_NoMemory();
        goto fail;
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
    free(cards.hits);
    free(ibans.hits);
    PyBuffer_Release(&data);
    if (have_active) {
        PyBuffer_Release(&active);
    }
    return out;
fail:
    free(c.hits);
    free(cards.hits);
    free(ibans.hits);
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
    .tp_doc = "Database(expressions, ids, flags, card=-1, iban=-1): block-mode expressions\n"
              "compiled by libhs, and the ids of CARD_TRIGGER and IBAN_TRIGGER (matched in C).",
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
        PyModule_AddStringConstant(m, "CARD_TRIGGER", CARD_TRIGGER) < 0 ||
        PyModule_AddStringConstant(m, "IBAN_TRIGGER", IBAN_TRIGGER) < 0 ||
        PyModule_AddStringConstant(m, "HS_VERSION", hs_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
