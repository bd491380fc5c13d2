/* SGD with momentum and L2 weight decay, in place. */
kernel void sgd_momentum(int n, float lr, float mu, float wd, global float *w, global float *v,
                         global const float *g) {
    GLOBAL_ID_OR_RETURN(i, n);
    const float wi = w[i];
    const float vi = mu * v[i] + lr * (g[i] + wd * wi);
    v[i] = vi;
    w[i] = wi - vi;
}
