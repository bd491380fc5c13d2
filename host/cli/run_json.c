/* A strict JSON reader (RFC 8259) into a small tree, then the run summary's
 * fields out of it with their types and ranges checked. */
#include "cli/run_json.h"

#include "runtime/error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds that keep a hostile file from costing more than a few hundred MB. */
enum { MAX_DEPTH = 64, MAX_NUMBER_CHARS = 400, MAX_VALUES = 4 << 20 };

/* ---- The tree ------------------------------------------------------------ */

typedef enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jmember jmember;
typedef struct jvalue {
    jtype type;
    int line, column;
    double number;
    const char *raw; /* a number's text in the input (for exact integers) */
    size_t raw_len;
    char *string; /* NUL-terminated; JSON strings with \u0000 are refused */
    size_t count; /* items or members */
    struct jvalue *items;
    jmember *members;
} jvalue;

struct jmember {
    char *key;
    jvalue value;
};

static void jvalue_free(jvalue *v) {
    free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        if (v->type == J_ARRAY) jvalue_free(&v->items[i]);
        if (v->type == J_OBJECT) {
            free(v->members[i].key);
            jvalue_free(&v->members[i].value);
        }
    }
    free(v->items);
    free(v->members);
    memset(v, 0, sizeof *v);
}

/* ---- The parser ---------------------------------------------------------- */

typedef struct parser {
    const char *p, *end, *line_start;
    int line;
    int depth;
    size_t values;
    const char *name;
} parser;

static int column(const parser *ps) {
    return (int)(ps->p - ps->line_start) + 1;
}

static pp_status syntax(const parser *ps, const char *what) {
    return pp_fail(PP_ERR_FORMAT, "%s:%d:%d: %s", ps->name, ps->line, column(ps), what);
}

static void skip_space(parser *ps) {
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->line_start = ps->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        ps->p++;
    }
}

static pp_status parse_value(parser *ps, jvalue *v);

typedef struct sbuf {
    char *data;
    size_t len, cap;
} sbuf;

static int sbuf_put(sbuf *b, const char *bytes, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The length of the well-formed UTF-8 sequence at p (no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* At the opening quote. */
static pp_status parse_string(parser *ps, char **out) {
    sbuf b = {0};
    pp_status st = PP_OK;
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end) {
            st = syntax(ps, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            st = syntax(ps, "a control character inside a string (JSON needs it escaped)");
            break;
        }
        char enc[4];
        size_t n = 0;
        if (c == '\\') {
            if (ps->end - ps->p < 2) {
                st = syntax(ps, "unterminated escape");
                break;
            }
            char e = ps->p[1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                enc[0] = decoded[simple - "\"\\/bfnrt"];
                n = 1;
                ps->p += 2;
            } else if (e == 'u') {
                unsigned cp;
                if (!hex4(ps->p + 2, ps->end, &cp)) {
                    st = syntax(ps, "\\u needs four hex digits");
                    break;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    st = syntax(ps, "a lone low surrogate in \\u escapes");
                    break;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned low;
                    if (ps->end - ps->p < 12 || ps->p[6] != '\\' || ps->p[7] != 'u' ||
                        !hex4(ps->p + 8, ps->end, &low) || low < 0xDC00 || low > 0xDFFF) {
                        st = syntax(ps, "a high surrogate without its low surrogate");
                        break;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    ps->p += 6;
                }
                if (cp == 0) {
                    st = syntax(ps, "\\u0000 is not allowed in strings here");
                    break;
                }
                n = utf8_encode(cp, enc);
                ps->p += 6;
            } else {
                st = syntax(ps, "an unknown escape in a string");
                break;
            }
        } else if (c < 0x80) {
            enc[0] = (char)c;
            n = 1;
            ps->p++;
        } else {
            n = utf8_valid((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (!n) {
                st = syntax(ps, "invalid UTF-8 in a string");
                break;
            }
            memcpy(enc, ps->p, n);
            ps->p += n;
        }
        if (!sbuf_put(&b, enc, n)) {
            st = pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", ps->name);
            break;
        }
    }
    if (st == PP_OK && !b.data && !sbuf_put(&b, "", 0))
        st = pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", ps->name);
    if (st != PP_OK) {
        free(b.data);
        return st;
    }
    *out = b.data;
    return PP_OK;
}

static int is_digit(const parser *ps) {
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static pp_status parse_number(parser *ps, jvalue *v) {
    const char *start = ps->p;
    if (*ps->p == '-') ps->p++;
    if (!is_digit(ps)) return syntax(ps, "a number needs digits");
    if (*ps->p == '0')
        ps->p++;
    else
        while (is_digit(ps))
            ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!is_digit(ps)) return syntax(ps, "a digit must follow the decimal point");
        while (is_digit(ps))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (!is_digit(ps)) return syntax(ps, "an exponent needs digits");
        while (is_digit(ps))
            ps->p++;
    }
    size_t len = (size_t)(ps->p - start);
    if (len > MAX_NUMBER_CHARS) return syntax(ps, "a number too long");
    char buf[MAX_NUMBER_CHARS + 1];
    memcpy(buf, start, len);
    buf[len] = '\0';
    errno = 0;
    double x = strtod(buf, NULL);
    if (!isfinite(x)) return syntax(ps, "a number out of range");
    v->type = J_NUMBER;
    v->number = x;
    v->raw = start;
    v->raw_len = len;
    return PP_OK;
}

static pp_status parse_literal(parser *ps, const char *word, jtype type, jvalue *v) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return syntax(ps, "an unknown word (expected a value: true, false, null, a number, a "
                          "string, an array or an object)");
    ps->p += n;
    v->type = type;
    return PP_OK;
}

/* Grows an array of elements of `size` bytes to hold one more, zeroed. */
static int grow(void **items, size_t count, size_t *cap, size_t size) {
    if (count < *cap) return 1;
    size_t cap2 = *cap ? 2 * *cap : 8;
    void *grown = realloc(*items, cap2 * size);
    if (!grown) return 0;
    memset((char *)grown + count * size, 0, (cap2 - count) * size);
    *items = grown;
    *cap = cap2;
    return 1;
}

static pp_status parse_array(parser *ps, jvalue *v) {
    v->type = J_ARRAY;
    size_t cap = 0;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return PP_OK;
    }
    for (;;) {
        if (!grow((void **)&v->items, v->count, &cap, sizeof *v->items))
            return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", ps->name);
        v->count++; /* counted before parsing so a failure frees what it built */
        PP_TRY(parse_value(ps, &v->items[v->count - 1]));
        skip_space(ps);
        if (ps->p >= ps->end) return syntax(ps, "unexpected end of file inside an array");
        if (*ps->p == ']') {
            ps->p++;
            return PP_OK;
        }
        if (*ps->p != ',') return syntax(ps, "expected ',' or ']' in an array");
        ps->p++;
    }
}

static pp_status parse_object(parser *ps, jvalue *v) {
    v->type = J_OBJECT;
    size_t cap = 0;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return PP_OK;
    }
    for (;;) {
        skip_space(ps);
        if (ps->p >= ps->end) return syntax(ps, "unexpected end of file inside an object");
        if (*ps->p != '"') return syntax(ps, "expected a quoted key in an object");
        if (!grow((void **)&v->members, v->count, &cap, sizeof *v->members))
            return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", ps->name);
        jmember *m = &v->members[v->count++];
        PP_TRY(parse_string(ps, &m->key));
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p != ':') return syntax(ps, "expected ':' after a key");
        ps->p++;
        PP_TRY(parse_value(ps, &m->value));
        skip_space(ps);
        if (ps->p >= ps->end) return syntax(ps, "unexpected end of file inside an object");
        if (*ps->p == '}') {
            ps->p++;
            return PP_OK;
        }
        if (*ps->p != ',') return syntax(ps, "expected ',' or '}' in an object");
        ps->p++;
    }
}

static pp_status parse_value(parser *ps, jvalue *v) {
    skip_space(ps);
    if (ps->p >= ps->end) return syntax(ps, "unexpected end of file (expected a value)");
    if (++ps->values > MAX_VALUES) return syntax(ps, "more values than any run JSON holds");
    v->line = ps->line;
    v->column = column(ps);
    unsigned char c = (unsigned char)*ps->p;
    if (c == '{' || c == '[') {
        if (ps->depth >= MAX_DEPTH) return syntax(ps, "nesting deeper than 64 levels");
        ps->depth++;
        pp_status st = c == '{' ? parse_object(ps, v) : parse_array(ps, v);
        ps->depth--;
        return st;
    }
    if (c == '"') {
        v->type = J_STRING;
        return parse_string(ps, &v->string);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, v);
    if (c == 't') return parse_literal(ps, "true", J_TRUE, v);
    if (c == 'f') return parse_literal(ps, "false", J_FALSE, v);
    if (c == 'n') return parse_literal(ps, "null", J_NULL, v);
    char what[96];
    if (c >= 0x20 && c < 0x7F)
        snprintf(what, sizeof what, "unexpected character '%c' (expected a value)", c);
    else
        snprintf(what, sizeof what, "unexpected byte 0x%02x (expected a value)", c);
    return syntax(ps, what);
}

static pp_status parse_document(const char *text, size_t size, const char *name, jvalue *root) {
    parser ps = {.p = text, .end = text + size, .line_start = text, .line = 1, .name = name};
    memset(root, 0, sizeof *root);
    skip_space(&ps);
    if (ps.p == ps.end)
        return pp_fail(PP_ERR_FORMAT, "%s: empty file, not a run JSON from `pepita train --json`",
                       name);
    pp_status st = parse_value(&ps, root);
    if (st == PP_OK) {
        skip_space(&ps);
        if (ps.p != ps.end) st = syntax(&ps, "text after the end of the JSON value");
    }
    if (st != PP_OK) jvalue_free(root);
    return st;
}

/* ---- The run's fields ---------------------------------------------------- */

typedef struct extract {
    const char *name;
} extract;

static pp_status field_error(const extract *x, const char *key, const jvalue *at,
                             const char *what) {
    if (at)
        return pp_fail(PP_ERR_FORMAT, "%s:%d:%d: \"%s\" %s", x->name, at->line, at->column, key,
                       what);
    return pp_fail(PP_ERR_FORMAT, "%s: \"%s\" %s", x->name, key, what);
}

/* The member `key` of obj, or NULL; a key given twice is an error. */
static pp_status member(const extract *x, const jvalue *obj, const char *key, const jvalue **out) {
    *out = NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (!strcmp(obj->members[i].key, key)) {
            if (*out) return field_error(x, key, &obj->members[i].value, "appears twice");
            *out = &obj->members[i].value;
        }
    return PP_OK;
}

static pp_status required(const extract *x, const jvalue *obj, const char *key,
                          const jvalue **out) {
    PP_TRY(member(x, obj, key, out));
    if (!*out)
        return pp_fail(PP_ERR_FORMAT,
                       "%s: the key \"%s\" is missing (not a run JSON from "
                       "`pepita train --json`?)",
                       x->name, key);
    return PP_OK;
}

/* A short lower-case name: letters, digits and '-'. */
static pp_status name_string(const extract *x, const char *key, const jvalue *v, char *out,
                             size_t size) {
    if (v->type != J_STRING) return field_error(x, key, v, "must be a string");
    size_t n = strlen(v->string);
    if (n == 0 || n >= size) return field_error(x, key, v, "has an impossible length");
    for (size_t i = 0; i < n; i++) {
        char c = v->string[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return field_error(x, key, v, "must hold only a-z, 0-9 and '-'");
    }
    memcpy(out, v->string, n + 1);
    return PP_OK;
}

/* An integral number in [lo, hi]. */
static pp_status integer(const extract *x, const char *key, const jvalue *v, double lo, double hi,
                         double *out) {
    if (v->type != J_NUMBER || v->number != floor(v->number) || v->number < lo || v->number > hi)
        return field_error(x, key, v, "must be a whole number in range");
    *out = v->number;
    return PP_OK;
}

/* A number in [lo, hi], or null (NAN) when nullable. */
static pp_status number(const extract *x, const char *key, const jvalue *v, double lo, double hi,
                        int nullable, double *out) {
    if (v->type == J_NULL && nullable) {
        *out = NAN;
        return PP_OK;
    }
    if (v->type != J_NUMBER) return field_error(x, key, v, "must hold numbers");
    if (v->number < lo || v->number > hi) {
        char what[96];
        snprintf(what, sizeof what, "has %g, outside [%g, %g]", v->number, lo, hi);
        return field_error(x, key, v, what);
    }
    *out = v->number;
    return PP_OK;
}

/* A per-epoch array of `epochs` numbers into a new allocation (NANs when absent). */
static pp_status epoch_array(const extract *x, const jvalue *root, const char *key, size_t epochs,
                             int needed, double lo, double hi, int nullable, double **out) {
    const jvalue *v;
    PP_TRY(needed ? required(x, root, key, &v) : member(x, root, key, &v));
    *out = malloc((epochs ? epochs : 1) * sizeof **out);
    if (!*out) return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", x->name);
    for (size_t i = 0; i < epochs; i++)
        (*out)[i] = NAN;
    if (!v) return PP_OK;
    if (v->type != J_ARRAY) return field_error(x, key, v, "must be an array");
    if (v->count != epochs) {
        char what[96];
        snprintf(what, sizeof what, "has %zu values but \"epochs\" is %zu", v->count, epochs);
        return field_error(x, key, v, what);
    }
    for (size_t i = 0; i < epochs; i++)
        PP_TRY(number(x, key, &v->items[i], lo, hi, nullable, &(*out)[i]));
    return PP_OK;
}

static pp_status read_norms(const extract *x, const jvalue *root, run_data *r) {
    const jvalue *v;
    PP_TRY(member(x, root, "weight_norms", &v));
    if (v) {
        if (v->type != J_ARRAY) return field_error(x, "weight_norms", v, "must be an array");
        if (v->count != r->epochs)
            return field_error(x, "weight_norms", v, "must hold one list per epoch");
        for (size_t e = 0; e < r->epochs; e++) {
            const jvalue *row = &v->items[e];
            if (row->type != J_ARRAY || row->count > RUN_JSON_MAX_LAYERS ||
                (e && (int)row->count != r->n_layers))
                return field_error(x, "weight_norms", row,
                                   "must hold lists of at most 10 norms, the same count each "
                                   "epoch");
            if (!e && row->count) {
                r->n_layers = (int)row->count;
                r->norms = malloc(r->epochs * (size_t)r->n_layers * sizeof *r->norms);
                if (!r->norms) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
            }
            for (int k = 0; k < r->n_layers; k++)
                PP_TRY(number(x, "weight_norms", &row->items[k], 0, INFINITY, 1,
                              &r->norms[e * (size_t)r->n_layers + (size_t)k]));
        }
    }
    r->initial_angle = NAN;
    PP_TRY(member(x, root, "initial_angle_degrees", &v));
    if (v) PP_TRY(number(x, "initial_angle_degrees", v, 0, 180, 1, &r->initial_angle));
    for (int k = 0; k < RUN_JSON_MAX_LAYERS; k++)
        r->initial_norms[k] = NAN;
    PP_TRY(member(x, root, "initial_weight_norms", &v));
    if (v) {
        if (v->type != J_ARRAY || v->count < 1 || v->count > RUN_JSON_MAX_LAYERS ||
            (r->n_layers && (int)v->count != r->n_layers))
            return field_error(x, "initial_weight_norms", v,
                               "must hold one norm per layer (1 to 10)");
        for (size_t k = 0; k < v->count; k++)
            PP_TRY(number(x, "initial_weight_norms", &v->items[k], 0, INFINITY, 1,
                          &r->initial_norms[k]));
    }
    return PP_OK;
}

static pp_status read_histogram(const extract *x, const jvalue *v, run_histogram *h) {
    const char *key = "weight_histograms";
    if (v->type != J_OBJECT) return field_error(x, key, v, "must hold objects");
    const jvalue *layer, *edges, *counts, *weights, *mean, *std;
    PP_TRY(required(x, v, "layer", &layer));
    PP_TRY(required(x, v, "edges", &edges));
    PP_TRY(required(x, v, "counts", &counts));
    PP_TRY(required(x, v, "weights", &weights));
    PP_TRY(required(x, v, "mean", &mean));
    PP_TRY(required(x, v, "std", &std));
    double d = 0;
    PP_TRY(integer(x, "layer", layer, 1, RUN_JSON_MAX_LAYERS, &d));
    h->layer = (int)d;
    PP_TRY(integer(x, "weights", weights, 0, 9007199254740992.0, &h->weights));
    PP_TRY(number(x, "mean", mean, -INFINITY, INFINITY, 0, &h->mean));
    PP_TRY(number(x, "std", std, 0, INFINITY, 0, &h->std));
    if (counts->type != J_ARRAY || counts->count < 1 || counts->count > RUN_JSON_MAX_BINS)
        return field_error(x, "counts", counts, "must be an array of 1 to 4096 counts");
    if (edges->type != J_ARRAY || edges->count != counts->count + 1)
        return field_error(x, "edges", edges, "must hold one more value than \"counts\"");
    h->bins = (int)counts->count;
    h->edges = malloc((counts->count + 1) * sizeof *h->edges);
    h->counts = malloc(counts->count * sizeof *h->counts);
    if (!h->edges || !h->counts) return pp_fail(PP_ERR_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; i <= counts->count; i++) {
        PP_TRY(number(x, "edges", &edges->items[i], -INFINITY, INFINITY, 0, &h->edges[i]));
        if (i && !(h->edges[i] > h->edges[i - 1]))
            return field_error(x, "edges", &edges->items[i], "must increase strictly");
    }
    double total = 0;
    for (size_t i = 0; i < counts->count; i++) {
        PP_TRY(integer(x, "counts", &counts->items[i], 0, 9007199254740992.0, &h->counts[i]));
        total += h->counts[i];
    }
    if (total != h->weights) return field_error(x, "counts", counts, "must add up to \"weights\"");
    return PP_OK;
}

static pp_status read_histograms(const extract *x, const jvalue *root, run_data *r) {
    const jvalue *v, *epoch;
    PP_TRY(member(x, root, "weight_histograms", &v));
    if (!v) return PP_OK;
    if (v->type != J_ARRAY || v->count > RUN_JSON_MAX_LAYERS)
        return field_error(x, "weight_histograms", v, "must be an array of at most 10 layers");
    PP_TRY(required(x, root, "weight_histograms_epoch", &epoch));
    double d = 0;
    PP_TRY(integer(x, "weight_histograms_epoch", epoch, 0, 1e6, &d));
    r->histogram_epoch = (int)d;
    for (size_t i = 0; i < v->count; i++) {
        r->n_histograms++; /* counted first so a failure frees it */
        PP_TRY(read_histogram(x, &v->items[i], &r->histograms[i]));
    }
    return PP_OK;
}

static int classes_of(const char *dataset) {
    if (!strcmp(dataset, "cifar100")) return 100;
    if (!strcmp(dataset, "mnist") || !strcmp(dataset, "fashion-mnist") ||
        !strcmp(dataset, "cifar10"))
        return 10;
    return 0;
}

/* An optional free-text member (device, source_commit): a string that fits in
 * SIZE bytes, with no control characters; "" when absent. */
static pp_status optional_text(const extract *x, const jvalue *root, const char *key, char *out,
                               size_t size) {
    const jvalue *v;
    PP_TRY(member(x, root, key, &v));
    out[0] = '\0';
    if (!v) return PP_OK;
    if (v->type != J_STRING || strlen(v->string) >= size) {
        char what[64];
        snprintf(what, sizeof what, "must be a string of at most %zu bytes", size - 1);
        return field_error(x, key, v, what);
    }
    for (const char *c = v->string; *c; c++)
        if ((unsigned char)*c < 0x20)
            return field_error(x, key, v, "must hold no control characters");
    memcpy(out, v->string, strlen(v->string) + 1);
    return PP_OK;
}

static pp_status read_run(const extract *x, const jvalue *root, run_data *r) {
    if (root->type != J_OBJECT)
        return pp_fail(PP_ERR_FORMAT, "%s: a run JSON is an object, this is not", x->name);
    const jvalue *v;
    PP_TRY(required(x, root, "dataset", &v));
    PP_TRY(name_string(x, "dataset", v, r->dataset, sizeof r->dataset));
    PP_TRY(required(x, root, "model", &v));
    PP_TRY(name_string(x, "model", v, r->model, sizeof r->model));
    PP_TRY(required(x, root, "rule", &v));
    PP_TRY(name_string(x, "rule", v, r->rule, sizeof r->rule));
    PP_TRY(optional_text(x, root, "device", r->device, sizeof r->device));
    PP_TRY(optional_text(x, root, "source_commit", r->source_commit, sizeof r->source_commit));
    double d = 0;
    PP_TRY(member(x, root, "classes", &v));
    if (v) {
        PP_TRY(integer(x, "classes", v, 2, 65536, &d));
        r->classes = (int)d;
    } else if (!(r->classes = classes_of(r->dataset))) {
        return pp_fail(PP_ERR_FORMAT, "%s: unknown dataset \"%s\" and no \"classes\"", x->name,
                       r->dataset);
    }
    PP_TRY(required(x, root, "epochs", &v));
    PP_TRY(integer(x, "epochs", v, 0, 1e6, &d));
    r->epochs = (size_t)d;
    PP_TRY(member(x, root, "epochs_planned", &v));
    if (v) {
        PP_TRY(integer(x, "epochs_planned", v, 0, 1e6, &d));
        r->epochs_planned = (int)d;
    }
    PP_TRY(member(x, root, "seed", &v));
    if (v) {
        if (v->type != J_NUMBER || v->raw_len > 20 || !v->raw_len || v->raw[0] == '-')
            return field_error(x, "seed", v, "must be a non-negative whole number");
        char buf[24];
        memcpy(buf, v->raw, v->raw_len);
        buf[v->raw_len] = '\0';
        char *end;
        errno = 0;
        r->seed = strtoull(buf, &end, 10);
        if (*end || errno) return field_error(x, "seed", v, "must be a whole number below 2^64");
        r->has_seed = 1;
    }
    snprintf(r->modulation, sizeof r->modulation, "error");
    PP_TRY(member(x, root, "config", &v));
    if (v) {
        if (v->type != J_OBJECT) return field_error(x, "config", v, "must be an object");
        const jvalue *m;
        PP_TRY(member(x, v, "modulation", &m));
        if (m) PP_TRY(name_string(x, "modulation", m, r->modulation, sizeof r->modulation));
    }
    size_t n = r->epochs;
    PP_TRY(epoch_array(x, root, "test_accuracy", n, 1, 0, 1, 0, &r->test_accuracy));
    PP_TRY(epoch_array(x, root, "train_accuracy", n, 0, 0, 1, 1, &r->train_accuracy));
    PP_TRY(epoch_array(x, root, "test_loss", n, 0, 0, INFINITY, 1, &r->test_loss));
    PP_TRY(epoch_array(x, root, "train_loss", n, 0, 0, INFINITY, 1, &r->train_loss));
    PP_TRY(epoch_array(x, root, "lr", n, 0, 0, INFINITY, 1, &r->lr));
    PP_TRY(epoch_array(x, root, "epoch_seconds", n, 0, 0, INFINITY, 1, &r->seconds));
    PP_TRY(epoch_array(x, root, "epoch_samples_per_second", n, 0, 0, INFINITY, 1,
                       &r->samples_per_second));
    PP_TRY(epoch_array(x, root, "angle_degrees", n, 0, 0, 180, 1, &r->angle));
    for (size_t i = 0; i < n; i++)
        if (isfinite(r->angle[i])) r->has_angle = 1;
    PP_TRY(read_norms(x, root, r));
    return read_histograms(x, root, r);
}

pp_status run_json_parse(const char *text, size_t size, const char *name, run_data *out) {
    memset(out, 0, sizeof *out);
    jvalue root;
    PP_TRY(parse_document(text, size, name, &root));
    extract x = {.name = name};
    pp_status st = read_run(&x, &root, out);
    jvalue_free(&root);
    if (st != PP_OK) run_json_free(out);
    return st;
}

pp_status run_json_load(const char *path, run_data *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return pp_fail(errno == ENOENT ? PP_ERR_NOT_FOUND : PP_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
        close(fd);
        return pp_fail(PP_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)s.st_size > RUN_JSON_MAX_BYTES) {
        close(fd);
        return pp_fail(PP_ERR_FORMAT, "%s: %lld bytes, larger than any run JSON (32 MiB)", path,
                       (long long)s.st_size);
    }
    size_t size = (size_t)s.st_size;
    char *text = malloc(size ? size : 1);
    if (!text) {
        close(fd);
        return pp_fail(PP_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    int read_errno = errno;
    close(fd);
    if (got != size) {
        free(text);
        return pp_fail(PP_ERR_IO, "%s: read %zu of %zu bytes: %s", path, got, size,
                       strerror(read_errno));
    }
    pp_status st = run_json_parse(text, size, path, out);
    free(text);
    return st;
}

void run_json_free(run_data *r) {
    free(r->test_accuracy);
    free(r->test_loss);
    free(r->train_accuracy);
    free(r->train_loss);
    free(r->lr);
    free(r->seconds);
    free(r->samples_per_second);
    free(r->angle);
    free(r->norms);
    for (int i = 0; i < r->n_histograms; i++) {
        free(r->histograms[i].edges);
        free(r->histograms[i].counts);
    }
    memset(r, 0, sizeof *r);
}

void run_json_label(const run_data *r, char *out, size_t size) {
    static const struct {
        const char *name, *label;
    } datasets[] = {{"mnist", "MNIST"},
                    {"fashion-mnist", "Fashion-MNIST"},
                    {"cifar10", "CIFAR-10"},
                    {"cifar100", "CIFAR-100"}};
    const char *dataset = r->dataset;
    for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++)
        if (!strcmp(r->dataset, datasets[i].name)) dataset = datasets[i].label;
    char rule[sizeof r->rule];
    for (size_t i = 0; i < sizeof rule; i++)
        rule[i] = (char)toupper((unsigned char)r->rule[i]);
    const char *control = !strcmp(r->modulation, "zero")     ? " F=0"
                          : !strcmp(r->modulation, "random") ? " random modulation"
                                                             : "";
    snprintf(out, size, "%s %s %s%s", rule, !strcmp(r->model, "fc") ? "FC" : r->model, dataset,
             control);
}

int run_json_groups(const run_data *runs, int n, int *group_of) {
    int groups = 0;
    for (int i = 0; i < n; i++) {
        char label[96], other[96];
        run_json_label(&runs[i], label, sizeof label);
        group_of[i] = -1;
        for (int j = 0; j < i && group_of[i] < 0; j++) {
            run_json_label(&runs[j], other, sizeof other);
            if (!strcmp(label, other)) group_of[i] = group_of[j];
        }
        if (group_of[i] < 0) group_of[i] = groups++;
    }
    return groups;
}
