/*
 * proctor.masking._cardmask: the card detector over one ASCII cell, in C.
 *
 * A result where one row in three holds a card number spends most of its masking time in
 * Python per masked cell (finding the candidates around the trigger hits, checking them,
 * rendering, counting): ~10 us per card, against ~0.2 us here. This module does, for one
 * cell's bytes, exactly what the Python path does for a cell whose only trigger hits are
 * the card trigger's:
 *
 *   1. every match of the built-in card pattern, as `re.finditer` finds them (left to
 *      right, non-overlapping), the pattern being (detectors.py, re.ASCII):
 *
 *        (?<![\w-])
 *        (?: \d{12,19}
 *          | \d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{3})?
 *          | \d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5}
 *        )
 *        (?![\w-]|\.\d)
 *
 *   2. kept when `card_ok` holds for its digits (12 to 19 of them, an issuer's range, the
 *      Luhn sum); matches of one pattern never overlap, so every kept one is masked;
 *   3. each replaced by the partial strategy (`_star_digits`: every digit starred but the
 *      last `keep`, never more than half of them; separators stay) or by a label (redact).
 *
 * Other detectors' trigger hits in the cell (a card's digits often hit the phone trigger)
 * change nothing when those detectors rank below the card detector and keep their match as
 * their candidate: the Python path skips them when each of their hits ends inside a masked
 * card (`_covered` in scanner.py), as a match holding that hit would overlap the card. The
 * kernel is given the cell's hits and which detectors are such; any other hit, or one not
 * covered, leaves the cell to Python.
 *
 * It is a fast path, not a second definition: `ColumnPlan` uses it only where those are the
 * semantics (the built-in card detector, no detector that runs without a trigger, a partial
 * or redact strategy, an encoding where ASCII bytes are ASCII characters), and any cell
 * holding a non-ASCII byte is left to Python. tests/unit/masking/test_cardmask.py compares the two on
 * generated and adversarial cells.
 *
 * Built by scripts/build-accel.py (needs only a C compiler and Python's headers); without
 * it every cell takes the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef const unsigned char *Text;

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* \w under re.ASCII */
static inline int is_word(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* How many digits start at p (at most `most`). */
static inline Py_ssize_t digits_at(Text t, Py_ssize_t n, Py_ssize_t p, Py_ssize_t most) {
    Py_ssize_t k = 0;
    while (k < most && p + k < n && is_digit(t[p + k])) {
        k++;
    }
    return k;
}

/* (?![\w-]|\.\d) at e */
static inline int ahead_ok(Text t, Py_ssize_t n, Py_ssize_t e) {
    if (e >= n) {
        return 1;
    }
    unsigned char c = t[e];
    if (is_word(c) || c == '-') {
        return 0;
    }
    return !(c == '.' && e + 1 < n && is_digit(t[e + 1]));
}

/* The end of the card pattern's match at p, or -1: the alternatives in order, each with
 * the backtracking the regex engine would do. */
static Py_ssize_t match_at(Text t, Py_ssize_t n, Py_ssize_t p) {
    if (!is_digit(t[p]) || (p > 0 && (is_word(t[p - 1]) || t[p - 1] == '-'))) {
        return -1;
    }
    Py_ssize_t run = digits_at(t, n, p, 20);
    if (run >= 12) {
        /* \d{12,19} takes min(run, 19); shorter tries end before a digit, which the
         * lookahead refuses. The other alternatives need a separator after four. */
        return (run <= 19 && ahead_ok(t, n, p + run)) ? p + run : -1;
    }
    if (run != 4 || p + 4 >= n) {
        return -1;
    }
    unsigned char s = t[p + 4];
    if (s != ' ' && s != '-') {
        return -1;
    }
    Py_ssize_t q = p + 5;
    /* \d{4}(s)\d{4}(s)\d{4}(s)\d{1,4}(?:(s)\d{3})? */
    if (digits_at(t, n, q, 4) == 4 && q + 4 < n && t[q + 4] == s &&
        digits_at(t, n, q + 5, 4) == 4 && q + 9 < n && t[q + 9] == s) {
        Py_ssize_t u = q + 10;
        Py_ssize_t take = digits_at(t, n, u, 4);
        for (Py_ssize_t k = take; k >= 1; k--) {
            Py_ssize_t e = u + k;
            if (e < n && t[e] == s && digits_at(t, n, e + 1, 3) == 3 && ahead_ok(t, n, e + 4)) {
                return e + 4;
            }
            if (ahead_ok(t, n, e)) {
                return e;
            }
        }
    }
    /* \d{4}(t)\d{6}(t)\d{4,5} */
    if (digits_at(t, n, q, 6) == 6 && q + 6 < n && t[q + 6] == s) {
        Py_ssize_t u = q + 7;
        Py_ssize_t take = digits_at(t, n, u, 5);
        for (Py_ssize_t k = take; k >= 4; k--) {
            if (ahead_ok(t, n, u + k)) {
                return u + k;
            }
        }
    }
    return -1;
}

/* validators._brand_known: an issuer's range for n digits starting with p6. */
static int brand_known(int n, long p6) {
    long p2 = p6 / 10000, p3 = p6 / 1000, p4 = p6 / 100;
    if (p6 / 100000 == 4 && (n == 13 || n == 16 || n == 19)) {
        return 1; /* visa */
    }
    if (n == 16 && ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))) {
        return 1; /* mastercard */
    }
    if (n == 15 && (p2 == 34 || p2 == 37)) {
        return 1; /* amex */
    }
    int wide = n >= 16 && n <= 19;
    if (wide && (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 ||
                 (p6 >= 622126 && p6 <= 622925))) {
        return 1; /* discover */
    }
    if ((wide && p2 == 35) || (n == 15 && (p4 == 1800 || p4 == 2131))) {
        return 1; /* jcb */
    }
    if (n >= 14 && n <= 19 &&
        ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)) {
        return 1; /* diners */
    }
    if (wide && (p2 == 62 || (p4 >= 2200 && p4 <= 2204))) {
        return 1; /* unionpay, mir */
    }
    return p2 == 50 || p2 == 56 || p2 == 57 || p2 == 58 || p2 == 67 || p4 == 6304 ||
           p4 == 6390 || p4 == 604; /* maestro */
}

/* validators.card_ok of the digits of t[s:e] (digits, spaces and dashes only). */
static int card_ok(Text t, Py_ssize_t s, Py_ssize_t e) {
    int n = 0, total = 0;
    for (Py_ssize_t i = e - 1; i >= s; i--) {
        if (is_digit(t[i])) {
            int d = t[i] - '0';
            if (n & 1) {
                d = d > 4 ? d * 2 - 9 : d * 2;
            }
            total += d;
            n++;
        }
    }
    if (n < 12 || n > 19 || total % 10) {
        return 0;
    }
    long p6 = 0;
    int seen = 0;
    for (Py_ssize_t i = s; seen < 6; i++) {
        if (is_digit(t[i])) {
            p6 = p6 * 10 + (t[i] - '0');
            seen++;
        }
    }
    return brand_known(n, p6);
}

/* strategies._star_digits(keep, t[s:e]) written to out; returns the bytes written. */
static Py_ssize_t star_digits(Text t, Py_ssize_t s, Py_ssize_t e, Py_ssize_t keep,
                              unsigned char *out) {
    Py_ssize_t digits = 0;
    for (Py_ssize_t i = s; i < e; i++) {
        digits += is_digit(t[i]);
    }
    if (keep > digits / 2) {
        keep = digits / 2;
    }
    Py_ssize_t cut = e; /* where the kept digits begin */
    while (keep > 0) {
        cut--;
        if (is_digit(t[cut])) {
            keep--;
        }
    }
    for (Py_ssize_t i = s; i < e; i++) {
        out[i - s] = (i < cut && is_digit(t[i])) ? '*' : t[i];
    }
    return e - s;
}

#define MAX_FOUND 64 /* a cell with more card numbers than this takes the Python path */

typedef struct {
    Py_ssize_t starts[MAX_FOUND], ends[MAX_FOUND];
    int found;
} Cards;

/* The strategy and detectors, as `CardKernel` (cardmask.py) gives them. */
typedef struct {
    Py_ssize_t keep;
    const char *label; /* NULL: partial, keeping `keep` digits */
    Py_ssize_t label_len;
    Py_ssize_t card; /* the card detector's id */
    const char *coverable;
    Py_ssize_t ncoverable;
} Rules;

/* The kept card matches of t[0:n] (finditer, then card_ok). 0 when the cell is Python's:
 * a non-ASCII byte (byte offsets would not be character offsets), or too many cards. */
static int find_cards(Text t, Py_ssize_t n, Cards *c) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t[i] >= 0x80) {
            return 0;
        }
    }
    c->found = 0;
    Py_ssize_t pos = 0;
    while (pos < n) {
        Py_ssize_t e = match_at(t, n, pos);
        if (e < 0) {
            pos++;
            continue;
        }
        if (card_ok(t, pos, e)) {
            if (c->found == MAX_FOUND) {
                return 0;
            }
            c->starts[c->found] = pos;
            c->ends[c->found] = e;
            c->found++;
        }
        pos = e; /* finditer goes on where its match ended */
    }
    return 1;
}

/* Whether a hit of another detector (its id, its end in the cell) changes nothing: the
 * detector is coverable and the end lies in a masked card (`_covered` in scanner.py). */
static int covered(const Rules *rules, const Cards *c, Py_ssize_t id, Py_ssize_t e) {
    if (id < 0 || id >= rules->ncoverable || !rules->coverable[id]) {
        return 0;
    }
    for (int k = 0; k < c->found; k++) {
        if (c->starts[k] < e && e <= c->ends[k]) {
            return 1;
        }
    }
    return 0;
}

/* The cell t[0:n] with its cards replaced, as a new bytes object. */
static PyObject *masked_cell(Text t, Py_ssize_t n, const Cards *c, const Rules *rules) {
    Py_ssize_t size = n;
    if (rules->label != NULL) {
        for (int k = 0; k < c->found; k++) {
            size += rules->label_len - (c->ends[k] - c->starts[k]);
        }
    }
    PyObject *masked = PyBytes_FromStringAndSize(NULL, size);
    if (masked == NULL) {
        return NULL;
    }
    unsigned char *w = (unsigned char *)PyBytes_AS_STRING(masked);
    Py_ssize_t at = 0;
    for (int k = 0; k < c->found; k++) {
        memcpy(w, t + at, (size_t)(c->starts[k] - at));
        w += c->starts[k] - at;
        if (rules->label != NULL) {
            memcpy(w, rules->label, (size_t)rules->label_len);
            w += rules->label_len;
        } else {
            w += star_digits(t, c->starts[k], c->ends[k], rules->keep, w);
        }
        at = c->ends[k];
    }
    memcpy(w, t + at, (size_t)(n - at));
    return masked;
}

static PyObject *mask_cell(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf;
    Py_ssize_t off, length;
    Rules rules = {0};
    PyObject *hits;
    if (!PyArg_ParseTuple(args, "y*nnnz#O!ny#", &buf, &off, &length, &rules.keep, &rules.label,
                          &rules.label_len, &PyDict_Type, &hits, &rules.card, &rules.coverable,
                          &rules.ncoverable)) {
        return NULL;
    }
    PyObject *result = NULL;
    Cards c;
    if (off < 0 || length < 0 || off > buf.len || length > buf.len - off) {
        PyErr_SetString(PyExc_ValueError, "the cell lies outside the buffer");
        goto done;
    }
    Text t = (Text)buf.buf + off;
    if (!find_cards(t, length, &c)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *card_key = PyLong_FromSsize_t(rules.card);
    int card_hit = card_key == NULL ? -1 : PyDict_Contains(hits, card_key);
    Py_XDECREF(card_key);
    if (card_hit < 0) {
        goto done;
    }
    if (!card_hit) { /* the Python path would not run the card detector */
        result = Py_NewRef(Py_None);
        goto done;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(hits, &pos, &key, &value)) {
        Py_ssize_t id = PyLong_AsSsize_t(key);
        if (id == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (id == rules.card) {
            continue;
        }
        if (!PyList_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "hits: lists of end offsets by detector");
            goto done;
        }
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(value); j++) {
            Py_ssize_t e = PyLong_AsSsize_t(PyList_GET_ITEM(value, j));
            if (e == -1 && PyErr_Occurred()) {
                goto done;
            }
            if (!covered(&rules, &c, id, e)) {
                result = Py_NewRef(Py_None);
                goto done;
            }
        }
    }
    if (c.found == 0) {
        result = Py_BuildValue("(iy#)", 0, "", (Py_ssize_t)0);
        goto done;
    }
    PyObject *masked = masked_cell(t, length, &c, &rules);
    if (masked != NULL) {
        result = Py_BuildValue("(iN)", c.found, masked);
    }
done:
    PyBuffer_Release(&buf);
    return result;
}

/* --- a run of DataRows ------------------------------------------------------------------ */

typedef struct {
    Py_ssize_t *off, *len;
    Py_ssize_t count, capacity;
} Cells;

static inline Py_ssize_t be32(Text p) {
    return (Py_ssize_t)(int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                                 ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

/* The cells of the DataRow data[start:end] (type byte and length included), as
 * decode.data_row_at reads them. 0 when malformed (Python's walk then says how); -1 when
 * out of memory. */
static int parse_row(Text data, Py_ssize_t start, Py_ssize_t end, Cells *cells) {
    if (end - start < 7) {
        return 0;
    }
    Py_ssize_t count = ((Py_ssize_t)data[start + 5] << 8) | data[start + 6];
    if (count >= 0x8000) {
        return 0; /* a negative int16 */
    }
    if (count > cells->capacity) {
        Py_ssize_t *off = PyMem_Realloc(cells->off, (size_t)count * sizeof(Py_ssize_t));
        if (off == NULL) {
            return -1;
        }
        cells->off = off;
        Py_ssize_t *len = PyMem_Realloc(cells->len, (size_t)count * sizeof(Py_ssize_t));
        if (len == NULL) {
            return -1;
        }
        cells->len = len;
        cells->capacity = count;
    }
    Py_ssize_t pos = start + 7;
    for (Py_ssize_t k = 0; k < count; k++) {
        if (end - pos < 4) {
            return 0;
        }
        Py_ssize_t length = be32(data + pos);
        pos += 4;
        cells->off[k] = pos;
        cells->len[k] = length;
        if (length > 0) {
            if (length > end - pos) {
                return 0;
            }
            pos += length;
        } else if (length < -1) {
            return 0;
        }
    }
    cells->count = count;
    return pos == end;
}

typedef struct {
    Py_ssize_t end, id; /* end: offset in the cell */
} CellHit;

static PyObject *be32_bytes(Py_ssize_t value, Text tail, Py_ssize_t tail_len) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, 4 + tail_len);
    if (b != NULL) {
        unsigned char *w = (unsigned char *)PyBytes_AS_STRING(b);
        uint32_t v = (uint32_t)value;
        w[0] = (unsigned char)(v >> 24);
        w[1] = (unsigned char)(v >> 16);
        w[2] = (unsigned char)(v >> 8);
        w[3] = (unsigned char)v;
        if (tail_len) {
            memcpy(w + 4, tail, (size_t)tail_len);
        }
    }
    return b;
}

/* Append (s, e, b) to list, stealing b. */
static int append_splice(PyObject *list, Py_ssize_t s, Py_ssize_t e, PyObject *b) {
    if (b == NULL) {
        return -1;
    }
    PyObject *splice = Py_BuildValue("(nnN)", s, e, b);
    if (splice == NULL) {
        return -1;
    }
    int rc = PyList_Append(list, splice);
    Py_DECREF(splice);
    return rc;
}

/* One cell's hits done: 1 masked (or nothing to mask), 0 Python's, -1 error. */
static int run_cell(Text data, const Cells *cells, Py_ssize_t k, const CellHit *hits,
                    Py_ssize_t nhits, const char *cards, Py_ssize_t ncards, const Rules *rules,
                    PyObject *found, Py_ssize_t *delta, Py_ssize_t *counted) {
    if (k >= ncards || !cards[k]) {
        return 0;
    }
    int card_hit = 0;
    for (Py_ssize_t j = 0; j < nhits; j++) {
        card_hit |= hits[j].id == rules->card;
    }
    if (!card_hit) {
        return 0;
    }
    Cards c;
    Text t = data + cells->off[k];
    Py_ssize_t n = cells->len[k];
    if (!find_cards(t, n, &c)) {
        return 0;
    }
    for (Py_ssize_t j = 0; j < nhits; j++) {
        if (hits[j].id != rules->card && !covered(rules, &c, hits[j].id, hits[j].end)) {
            return 0;
        }
    }
    if (c.found == 0) {
        return 1;
    }
    PyObject *masked = masked_cell(t, n, &c, rules);
    if (masked == NULL) {
        return -1;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(masked);
    Py_ssize_t off = cells->off[k];
    int rc;
    if (size == n) { /* in place */
        rc = append_splice(found, off, off + n, masked);
    } else { /* with the cell's length */
        rc = append_splice(found, off - 4, off + n,
                           be32_bytes(size, (Text)PyBytes_AS_STRING(masked), size));
        Py_DECREF(masked);
        *delta += size - n;
    }
    *counted += c.found;
    return rc < 0 ? -1 : 1;
}

static int hit_at(PyObject *hits, Py_ssize_t h, Py_ssize_t *to, Py_ssize_t *id) {
    PyObject *hit = PyList_GET_ITEM(hits, h);
    if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
        PyErr_SetString(PyExc_TypeError, "hits: (end offset, detector) tuples");
        return -1;
    }
    *to = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 0));
    *id = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, 1));
    return PyErr_Occurred() ? -1 : 0;
}

static int row_end_at(PyObject *ends, Py_ssize_t r, Py_ssize_t *end) {
    *end = PyLong_AsSsize_t(PyList_GET_ITEM(ends, r));
    return (*end == -1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *mask_run(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf;
    Py_ssize_t start, h, r;
    PyObject *ends, *hits;
    const char *local, *cards;
    Py_ssize_t nlocal, ncards;
    Rules rules = {0};
    if (!PyArg_ParseTuple(args, "y*nO!O!nny#y#ny#nz#", &buf, &start, &PyList_Type, &ends,
                          &PyList_Type, &hits, &h, &r, &local, &nlocal, &cards, &ncards,
                          &rules.card, &rules.coverable, &rules.ncoverable, &rules.keep,
                          &rules.label, &rules.label_len)) {
        return NULL;
    }
    PyObject *result = NULL, *found = PyList_New(0), *counts = NULL;
    Py_ssize_t *per_column = PyMem_Calloc((size_t)(nlocal ? nlocal : 1), sizeof(Py_ssize_t));
    Py_ssize_t *pending = PyMem_Calloc((size_t)(nlocal ? nlocal : 1), sizeof(Py_ssize_t));
    Cells cells = {0};
    CellHit *cell_hits = NULL;
    Py_ssize_t hit_capacity = 0;
    Text data = (Text)buf.buf;
    Py_ssize_t nrows = PyList_GET_SIZE(ends), nhits = PyList_GET_SIZE(hits);
    Py_ssize_t h_end = nhits, any_count = 0;
    if (found == NULL || per_column == NULL || pending == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (h < 0 || r < 0) {
        PyErr_SetString(PyExc_ValueError, "h and r must not be negative");
        goto done;
    }
    while (h < nhits) {
        Py_ssize_t to, id, row_start, row_end;
        if (hit_at(hits, h, &to, &id) < 0) {
            goto done;
        }
        Py_ssize_t at = start + to;
        for (;;) { /* to the row the hit ends in */
            if (r >= nrows) {
                break;
            }
            if (row_end_at(ends, r, &row_end) < 0) {
                goto done;
            }
            if (row_end >= at) {
                break;
            }
            r++;
        }
        if (r >= nrows) { /* past every row: nothing to mask (as _hit_cells) */
            h = h_end = nhits;
            break;
        }
        if (r == 0) {
            row_start = start;
        } else if (row_end_at(ends, r - 1, &row_start) < 0) {
            goto done;
        }
        if (row_start < 0 || row_end > buf.len || row_start > row_end) {
            PyErr_SetString(PyExc_ValueError, "a row lies outside the buffer");
            goto done;
        }
        /* The row's hits: [h, h_end). */
        for (h_end = h + 1; h_end < nhits; h_end++) {
            Py_ssize_t t2, i2;
            if (hit_at(hits, h_end, &t2, &i2) < 0) {
                goto done;
            }
            if (start + t2 > row_end) {
                break;
            }
        }
        int ok = parse_row(data, row_start, row_end, &cells);
        if (ok < 0) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t mark = PyList_GET_SIZE(found), delta = 0;
        Py_ssize_t k = -1, off = -1, cell_end = -1, ncell_hits = 0, counted = 0, cell = -1;
        for (Py_ssize_t j = h; ok == 1 && j <= h_end; j++) {
            Py_ssize_t hto = 0, hid = 0, hat = row_end + 1; /* past the row: the last cell */
            if (j < h_end) {
                if (hit_at(hits, j, &hto, &hid) < 0) {
                    goto done;
                }
                hat = start + hto;
            }
            if (hat > cell_end && ncell_hits) { /* the cell before: masked with its hits */
                Py_ssize_t before = counted;
                ok = run_cell(data, &cells, cell, cell_hits, ncell_hits, cards, ncards, &rules,
                              found, &delta, &counted);
                if (ok < 0) {
                    goto done;
                }
                pending[cell] += counted - before;
                ncell_hits = 0;
            }
            if (j == h_end || ok != 1) {
                break;
            }
            while (hat > cell_end) { /* to the cell the hit ends in */
                k++;
                if (k >= cells.count) {
                    break;
                }
                off = cells.off[k];
                cell_end = cells.len[k] > 0 ? off + cells.len[k] : off;
            }
            if (k < cells.count && k < nlocal && local[k] && hat > off) {
                if (ncell_hits == hit_capacity) {
                    Py_ssize_t capacity = hit_capacity ? hit_capacity * 2 : 16;
                    CellHit *grown = PyMem_Realloc(cell_hits, (size_t)capacity * sizeof(CellHit));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto done;
                    }
                    cell_hits = grown;
                    hit_capacity = capacity;
                }
                cell_hits[ncell_hits].end = hat - off;
                cell_hits[ncell_hits].id = hid;
                ncell_hits++;
                cell = k;
            }
        }
        if (ok != 1) { /* Python's row: none of its changes, stop before it */
            if (PyList_SetSlice(found, mark, PyList_GET_SIZE(found), NULL) < 0) {
                goto done;
            }
            for (Py_ssize_t c = 0; c < nlocal; c++) {
                pending[c] = 0;
            }
            break;
        }
        if (delta) { /* the row's length, before its cells */
            PyObject *fixed = be32_bytes(row_end - row_start - 1 + delta, NULL, 0);
            PyObject *splice = fixed ? Py_BuildValue("(nnN)", row_start + 1, row_start + 5, fixed)
                                     : NULL;
            if (splice == NULL) {
                goto done;
            }
            int rc = PyList_Insert(found, mark, splice);
            Py_DECREF(splice);
            if (rc < 0) {
                goto done;
            }
        }
        for (Py_ssize_t c = 0; c < nlocal; c++) {
            per_column[c] += pending[c];
            any_count += pending[c];
            pending[c] = 0;
        }
        h = h_end;
        h_end = nhits;
        r++;
    }
    if (any_count) {
        counts = PyList_New(nlocal);
        if (counts == NULL) {
            goto done;
        }
        for (Py_ssize_t c = 0; c < nlocal; c++) {
            PyObject *v = PyLong_FromSsize_t(per_column[c]);
            if (v == NULL) {
                goto done;
            }
            PyList_SET_ITEM(counts, c, v);
        }
    } else {
        counts = Py_NewRef(Py_None);
    }
    result = Py_BuildValue("(OOnnn)", found, counts, h, h_end, r);
done:
    Py_XDECREF(found);
    Py_XDECREF(counts);
    PyMem_Free(per_column);
    PyMem_Free(pending);
    PyMem_Free(cells.off);
    PyMem_Free(cells.len);
    PyMem_Free(cell_hits);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"mask_cell", mask_cell, METH_VARARGS,
     "mask_cell(data, off, length, keep, label, hits, card, coverable)\n"
     "    -> tuple[int, bytes] | None\n\n"
     "The card numbers in data[off:off+length] masked: (how many, the cell's new bytes;\n"
     "empty when none), each replaced by label, or with label None partially (all digits\n"
     "starred but the last keep). hits: the cell's trigger ends by detector; card: the\n"
     "card detector's id; coverable: by id, whether a detector's hits may be ignored when\n"
     "they end inside a masked card. None when the cell is not ASCII, the card detector\n"
     "did not hit it, or another hit counts."},
    {"mask_run", mask_run, METH_VARARGS,
     "mask_run(data, start, ends, hits, h, r, local, cards, card, coverable, keep, label)\n"
     "    -> tuple[list[tuple[int, int, bytes]], list[int] | None, int, int, int]\n\n"
     "The rows of a run of DataRows (data[start:ends[-1]], row i ending at ends[i]) that its\n"
     "trigger hits (end offset from start, detector; ascending) fall in, from hit h and row\n"
     "r on, masked as _hit_cells would, until a row needs Python: a hit cell of a column\n"
     "that is local but not in cards, a cell mask_cell leaves to Python, a malformed row.\n"
     "Returns (splices of the rows done, cards masked by column or None, the first hit of\n"
     "the row that needs Python and the end of its hits, its index); the first is len(hits)\n"
     "when every row is done."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "proctor.masking._cardmask",
    .m_doc = "The card detector over ASCII cells and runs of DataRows, in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__cardmask(void) { return PyModule_Create(&module); }
