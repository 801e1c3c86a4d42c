package io.legate.compression;

/**
 * A configured compression library (Envoy's {@code CompressorFactory}): immutable, shared by all
 * workers; creates a {@link Compressor} per stream.
 *
 * @param name the {@code compressor_library.name}, used in stat names
 * @param contentEncoding the {@code Content-Encoding} token, e.g. {@code gzip}, {@code br}
 * @param statsPrefix the library's stats prefix, e.g. {@code gzip}, {@code brotli}, {@code zstd}
 */
public record CompressorLibrary(
    String name, String contentEncoding, String statsPrefix, java.util.function.Supplier<Compressor> factory) {
  /** Creates a compressor for one stream. */
  public Compressor create() {
    return factory.get();
  }
}
