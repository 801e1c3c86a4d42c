package io.legate.compression;

import com.aayushatharva.brotli4j.Brotli4jLoader;

/** Loads the native brotli library once and says whether it is usable on this platform. */
final class BrotliSupport {
  private BrotliSupport() {}

  /** Returns null when the native library loaded, else why not. */
  static String unavailabilityReason() {
    try {
      if (Brotli4jLoader.isAvailable()) {
        return null;
      }
      Throwable cause = Brotli4jLoader.getUnavailabilityCause();
      return cause == null ? "not available" : cause.toString();
    } catch (Throwable t) {
      return t.toString();
    }
  }

  static void ensureAvailable() {
    Brotli4jLoader.ensureAvailability();
  }
}
