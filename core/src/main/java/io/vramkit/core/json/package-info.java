/**
 * The one small JSON reader and writer of vramkit (no library dependency): snapshots, statistics, trace reports,
 * model configs, safetensors headers and the CLI's {@code --json} lines all go through it.
 */
package io.vramkit.core.json;
