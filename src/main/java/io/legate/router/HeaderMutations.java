package io.legate.router;

import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.legate.config.ConfigException;
import io.legate.formatter.Formatter;
import io.legate.http.StreamInfo;
import io.legate.http.codec.HeaderUtil;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Header additions and removals, as Envoy's {@code HeaderParser}, in one or more stages applied in
 * order (route, virtual host, route configuration; or the reverse with {@code
 * most_specific_header_mutations_wins}).
 *
 * <p>Within a stage: removals first; then every value is formatted against the headers as they are
 * after the removals; then overwrites ({@code OVERWRITE_IF_EXISTS_OR_ADD}, {@code
 * OVERWRITE_IF_EXISTS} when present) are set, then additions ({@code APPEND_IF_EXISTS_OR_ADD},
 * {@code ADD_IF_ABSENT} when absent) are appended. An empty value is skipped unless {@code
 * keep_empty_value}.
 */
public final class HeaderMutations {
  /** No mutations. */
  public static final HeaderMutations EMPTY = new HeaderMutations(List.of(), false);

  enum Action {
    APPEND_IF_EXISTS_OR_ADD,
    ADD_IF_ABSENT,
    OVERWRITE_IF_EXISTS_OR_ADD,
    OVERWRITE_IF_EXISTS
  }

  record Add(AsciiString name, Formatter value, Action action, boolean keepEmpty) {}

  record Stage(List<AsciiString> remove, List<Add> add) {}

  private final List<Stage> stages;
  private final boolean response;

  private HeaderMutations(List<Stage> stages, boolean response) {
    this.stages = List.copyOf(stages);
    this.response = response;
  }

  /**
   * Builds one stage from Envoy's {@code *_headers_to_add} / {@code *_headers_to_remove}.
   *
   * @param path the config path of the owning message, e.g. {@code virtual_hosts[0]}
   * @param prefix {@code request} or {@code response}
   */
  static HeaderMutations build(
      List<HeaderValueOption> toAdd, List<String> toRemove, String path, String prefix) {
    return build(toAdd, toRemove, path + "." + prefix + "_headers_to_add", path + "." + prefix
        + "_headers_to_remove", prefix.equals("response"));
  }

  /**
   * Builds header additions from a filter's list of {@code HeaderValueOption} (for example the
   * local rate limit's {@code response_headers_to_add}); values may hold {@code %...%} formatters.
   *
   * @param fieldPath the config path of the list, e.g. {@code ...typed_config.response_headers_to_add}
   * @param response whether the mutations apply to response headers
   */
  public static HeaderMutations ofAdditions(
      List<HeaderValueOption> toAdd, String fieldPath, boolean response) {
    return build(toAdd, List.of(), fieldPath, fieldPath, response);
  }

  private static HeaderMutations build(List<HeaderValueOption> toAdd, List<String> toRemove,
      String addPath, String removePath, boolean response) {
    if (toAdd.isEmpty() && toRemove.isEmpty()) {
      return response ? EMPTY_RESPONSE : EMPTY;
    }
    List<Add> adds = new ArrayList<>();
    for (int i = 0; i < toAdd.size(); i++) {
      HeaderValueOption o = toAdd.get(i);
      String p = addPath + "[" + i + "]";
      String key = o.getHeader().getKey();
      if (key.isEmpty()) {
        throw new ConfigException(p + ".header.key", "must not be empty");
      }
      if (!modifiable(key)) {
        throw new ConfigException(p + ".header.key", ":-prefixed or host headers may not be modified");
      }
      Action action;
      if (o.hasAppend()) {
        if (o.getAppendActionValue() != 0) {
          throw new ConfigException(p, "Both append and append_action are set and it's not allowed");
        }
        action = o.getAppend().getValue() ? Action.APPEND_IF_EXISTS_OR_ADD : Action.OVERWRITE_IF_EXISTS_OR_ADD;
      } else {
        int v = o.getAppendActionValue();
        if (v < 0 || v >= Action.values().length) {
          throw new ConfigException(p + ".append_action", "unknown value " + v);
        }
        action = Action.values()[v];
      }
      String value =
          o.getHeader().getRawValue().isEmpty()
              ? o.getHeader().getValue()
              : o.getHeader().getRawValue().toString(StandardCharsets.UTF_8);
      Formatter f = Formatter.parse(value, p + ".header.value", true);
      adds.add(new Add(AsciiString.of(key.toLowerCase(Locale.ROOT)), f, action, o.getKeepEmptyValue()));
    }
    List<AsciiString> removes = new ArrayList<>();
    for (int i = 0; i < toRemove.size(); i++) {
      String h = toRemove.get(i);
      if (h.isEmpty() || !modifiable(h)) {
        throw new ConfigException(
            removePath + "[" + i + "]",
            ":-prefixed or host headers may not be removed");
      }
      removes.add(AsciiString.of(h.toLowerCase(Locale.ROOT)));
    }
    return new HeaderMutations(List.of(new Stage(removes, adds)), response);
  }

  private static final HeaderMutations EMPTY_RESPONSE = new HeaderMutations(List.of(), true);

  private static boolean modifiable(String key) {
    return !key.startsWith(":") && !key.equalsIgnoreCase("host");
  }

  /** Returns the stages of all given mutations, in order. */
  static HeaderMutations concat(HeaderMutations... parts) {
    List<Stage> all = new ArrayList<>();
    boolean response = false;
    for (HeaderMutations m : parts) {
      all.addAll(m.stages);
      response |= m.response;
    }
    if (all.isEmpty()) {
      return response ? EMPTY_RESPONSE : EMPTY;
    }
    return new HeaderMutations(all, response);
  }

  /** Returns true if there is nothing to do. */
  public boolean isEmpty() {
    return stages.isEmpty();
  }

  /**
   * Applies to target headers (request or response), evaluating formatters against info. For
   * request mutations {@code %REQ()%} reads target; for response mutations {@code %RESP()%} reads
   * target and {@code %REQ()%} reads {@link StreamInfo#requestHeaders()}.
   */
  public void apply(Http2Headers target, StreamInfo info) {
    if (stages.isEmpty()) {
      return;
    }
    Http2Headers req = response ? info.requestHeaders() : target;
    Http2Headers resp = response ? target : info.responseHeaders();
    long now = System.nanoTime();
    for (Stage s : stages) {
      for (AsciiString r : s.remove) {
        target.remove(r);
      }
      int n = s.add.size();
      if (n == 0) {
        continue;
      }
      String[] values = new String[n];
      boolean[] overwrite = new boolean[n];
      for (int i = 0; i < n; i++) {
        Add a = s.add.get(i);
        String v = a.value.format(info, req, resp, now);
        if (v.isEmpty() && !a.keepEmpty) {
          continue;
        }
        if (!a.value.isConstant() && !HeaderUtil.isValidHeaderValue(v)) {
          // A command's output (dynamic metadata, filter state, a header of the other message…)
          // with CR, LF or another control character: written as is, it would split the message on
          // HTTP/1.1. Constant values were checked with the config.
          continue;
        }
        switch (a.action) {
          case APPEND_IF_EXISTS_OR_ADD -> values[i] = v;
          case ADD_IF_ABSENT -> {
            if (!target.contains(a.name)) {
              values[i] = v;
            }
          }
          case OVERWRITE_IF_EXISTS -> {
            if (target.contains(a.name)) {
              values[i] = v;
              overwrite[i] = true;
            }
          }
          case OVERWRITE_IF_EXISTS_OR_ADD -> {
            values[i] = v;
            overwrite[i] = true;
          }
        }
      }
      for (int i = 0; i < n; i++) {
        if (values[i] != null && overwrite[i]) {
          target.set(s.add.get(i).name, values[i]);
        }
      }
      for (int i = 0; i < n; i++) {
        if (values[i] != null && !overwrite[i]) {
          target.add(s.add.get(i).name, values[i]);
        }
      }
    }
  }
}
