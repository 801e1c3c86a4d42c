package io.legate.tracing;

import io.legate.stats.Counter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.util.Collection;

/** An exporter that counts the spans it hands on ({@code tracing.<provider>.spans_sent}). */
public final class CountingSpanExporter implements SpanExporter {
  private final SpanExporter delegate;
  private final Counter spansSent;

  /** Wraps {@code delegate}, counting each span sent in {@code spansSent}. */
  public CountingSpanExporter(SpanExporter delegate, Counter spansSent) {
    this.delegate = delegate;
    this.spansSent = spansSent;
  }

  @Override
  public CompletableResultCode export(Collection<SpanData> spans) {
    spansSent.add(spans.size());
    return delegate.export(spans);
  }

  @Override
  public CompletableResultCode flush() {
    return delegate.flush();
  }

  @Override
  public CompletableResultCode shutdown() {
    return delegate.shutdown();
  }
}
