package io.legate.compression;

/**
 * A configured decompression library: immutable, shared by all workers; creates a {@link
 * Decompressor} per stream.
 *
 * @param name the {@code decompressor_library.name}, used in stat names
 * @param contentEncoding the {@code Content-Encoding} token it decodes
 * @param statsPrefix the library's stats prefix ({@code gzip}, {@code brotli}, {@code zstd})
 */
public record DecompressorLibrary(
    String name, String contentEncoding, String statsPrefix, java.util.function.Supplier<Decompressor> factory) {
  /** Creates a decompressor for one stream. */
  public Decompressor create() {
    return factory.get();
  }
}
