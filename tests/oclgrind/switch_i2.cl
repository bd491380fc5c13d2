/* Oclgrind 21.10 defect: picking a vector component by a chain of lane == k
 * tests. Clang turns the chain into `switch i2 (trunc i to i2)`, and
 * Oclgrind takes the default branch for i = 996 (lane 0): out = 13, not 10.
 * Correct with -cl-opt-disable (no switch) and on PoCL. */
kernel void lane_select(global uint *out, uint i, global const uint4 *w) {
    const uint4 v = w[0];
    const uint lane = i % 4;
    out[0] = lane == 0 ? v.x : lane == 1 ? v.y : lane == 2 ? v.z : v.w;
}
