package io.legate.http.filters.setfilterstate;

import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.extensions.filters.common.set_filter_state.v3.FilterStateValue;
import io.envoyproxy.envoy.extensions.filters.http.set_filter_state.v3.Config;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.formatter.Formatter;
import io.legate.http.FilterState;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code envoy.filters.http.set_filter_state}: on request headers, stores in the stream's filter
 * state one object per {@code on_request_headers} entry, its value a substitution format string
 * ({@code %REQ(x-user)%}, …) evaluated against the request. The object's type comes from its
 * factory ({@code factory_key}, else {@code object_key}), as in Envoy; the string objects {@code
 * envoy.string} and {@code envoy.hashable_string} (which a {@code hash_policy.filter_state} can
 * hash) are known.
 */
public final class SetFilterStateFilterFactory extends HttpFilterConfigFactory<Config> {
  private static final List<String> FACTORIES = List.of("envoy.string", "envoy.hashable_string");

  public SetFilterStateFilterFactory() {
    super("envoy.filters.http.set_filter_state", Config.class, Config.getDefaultInstance());
  }

  /** One entry, parsed once. */
  record Value(String key, boolean hashable, boolean readOnly, boolean skipIfEmpty, Formatter format) {}

  @Override
  protected HttpFilter.Factory createFilterFactory(Config config, FactoryContext context, String path) {
    List<Value> values = new ArrayList<>();
    for (int i = 0; i < config.getOnRequestHeadersCount(); i++) {
      values.add(value(config.getOnRequestHeaders(i), path + ".typed_config.on_request_headers[" + i + "]"));
    }
    List<Value> all = List.copyOf(values);
    return () -> new SetFilterStateFilter(all);
  }

  static Value value(FilterStateValue v, String path) {
    if (v.getKeyCase() != FilterStateValue.KeyCase.OBJECT_KEY || v.getObjectKey().isEmpty()) {
      throw new ConfigException(path + ".object_key", "value length must be at least 1 characters");
    }
    String key = v.getObjectKey();
    String factory = v.getFactoryKey().isEmpty() ? key : v.getFactoryKey();
    if (!FACTORIES.contains(factory)) {
      throw new ConfigException(path + (v.getFactoryKey().isEmpty() ? ".object_key" : ".factory_key"),
          "'" + factory + "' does not have an object factory; known: " + String.join(", ", FACTORIES));
    }
    if (v.getSharedWithUpstream() != FilterStateValue.SharedWithUpstream.NONE) {
      throw new ConfigException(path + ".shared_with_upstream", "only NONE is supported");
    }
    if (v.getValueCase() != FilterStateValue.ValueCase.FORMAT_STRING) {
      throw new ConfigException(path + ".format_string", "must be set");
    }
    SubstitutionFormatString f = v.getFormatString();
    String fp = path + ".format_string";
    if (f.getFormattersCount() > 0) {
      throw new ConfigException(fp + ".formatters", "formatter extensions are not supported");
    }
    String text = switch (f.getFormatCase()) {
      case TEXT_FORMAT -> f.getTextFormat();
      case TEXT_FORMAT_SOURCE -> {
        if (!f.getTextFormatSource().hasInlineString()) {
          throw new ConfigException(fp + ".text_format_source", "only inline_string is supported");
        }
        yield f.getTextFormatSource().getInlineString();
      }
      case JSON_FORMAT -> throw new ConfigException(fp + ".json_format", "not supported; use text_format_source");
      default -> throw new ConfigException(fp, "one of text_format, text_format_source must be set");
    };
    return new Value(key, factory.equals("envoy.hashable_string"), v.getReadOnly(), v.getSkipIfEmpty(),
        Formatter.parse(text, fp, f.getOmitEmptyValues()));
  }

  /** The filter on one stream. */
  static final class SetFilterStateFilter implements HttpFilter {
    private final List<Value> values;
    private DecoderCallbacks callbacks;

    SetFilterStateFilter(List<Value> values) {
      this.values = values;
    }

    @Override
    public void setDecoderCallbacks(DecoderCallbacks callbacks) {
      this.callbacks = callbacks;
    }

    @Override
    public Status decodeHeaders(Http2Headers headers, boolean endStream) {
      var info = callbacks.streamInfo();
      long now = System.nanoTime();
      for (Value v : values) {
        String s = v.format().format(info, headers, null, now);
        if (v.skipIfEmpty() && s.isEmpty()) {
          continue;
        }
        FilterState.StateObject o = v.hashable()
            ? new FilterState.HashableStringObject(s) : new FilterState.StringObject(s);
        info.filterState().set(v.key(), o, v.readOnly());
      }
      return Status.CONTINUE;
    }
  }
}
