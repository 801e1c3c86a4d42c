package io.legate.tracing;

import io.opentelemetry.sdk.trace.IdGenerator;

/**
 * Random ids, except that the next span id or trace id may be preset by the thread that is about to
 * start a span: Zipkin's shared span context makes the ingress span reuse the caller's span id, and
 * its 64-bit trace ids keep the upper half zero. Presets are per thread and consumed by the next
 * span started on that thread.
 */
final class PresetIdGenerator implements IdGenerator {
  private static final IdGenerator RANDOM = IdGenerator.random();
  private static final ThreadLocal<String[]> PRESET = ThreadLocal.withInitial(() -> new String[2]);

  private final boolean traceId128;

  PresetIdGenerator(boolean traceId128) {
    this.traceId128 = traceId128;
  }

  /** Presets the ids of the next span this thread starts (either may be null: random). */
  static void preset(String traceId, String spanId) {
    String[] p = PRESET.get();
    p[0] = traceId;
    p[1] = spanId;
  }

  /** Forgets this thread's presets. */
  static void clear() {
    String[] p = PRESET.get();
    p[0] = null;
    p[1] = null;
  }

  @Override
  public String generateSpanId() {
    String[] p = PRESET.get();
    String s = p[1];
    if (s != null) {
      p[1] = null;
      return s;
    }
    return RANDOM.generateSpanId();
  }

  @Override
  public String generateTraceId() {
    String[] p = PRESET.get();
    String t = p[0];
    if (t != null) {
      p[0] = null;
      return t;
    }
    return traceId128 ? RANDOM.generateTraceId() : "0000000000000000" + RANDOM.generateSpanId();
  }
}
