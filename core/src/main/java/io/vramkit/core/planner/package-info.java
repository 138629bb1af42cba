/**
 * The capacity planner: model configs from Hugging Face {@code config.json} files and presets, inference and
 * training memory estimates, and "what fits" answers, with GB (10⁹) and GiB (2³⁰) always named.
 */
package io.vramkit.core.planner;
