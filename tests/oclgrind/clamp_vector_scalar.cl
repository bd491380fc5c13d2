/* Oclgrind 21.10 defect: integer clamp(gentype x, sgentype lo, sgentype hi)
 * with a vector x and scalar bounds returns garbage lanes: here (0, 21888,
 * 0, 0) or similar instead of (0, 1, 2, 3). clamp(x, (int4)lo, (int4)hi) is
 * correct, and so is the scalar-bound form on PoCL. */
kernel void clamp_vector_scalar(int shift, global int4 *out) {
    const int4 idx = (int4)(0, 1, 2, 3) + shift;
    out[0] = clamp(idx, 0, 3);
}
