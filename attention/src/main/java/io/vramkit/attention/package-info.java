/** Memory-efficient attention: flash prefill, sliding window, block sparse and paged decode. */
package io.vramkit.attention;
