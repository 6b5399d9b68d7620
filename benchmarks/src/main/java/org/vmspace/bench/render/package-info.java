/**
 * The host side of {@code benchmarks/run all}: the machine-readable results format ({@link
 * org.vmspace.bench.render.ResultRow}) and the renderer of {@code docs/benchmarks.md} with its
 * JFreeChart PNGs ({@link org.vmspace.bench.render.BenchmarksPage}). Depends on no other package
 * of the benchmarks; {@code org.vmspace.bench} writes results through it.
 */
package org.vmspace.bench.render;
