/** CPU kernel infrastructure: the Vector API provider switch and the shared parallel executor. */
package io.vramkit.core.cpu;
