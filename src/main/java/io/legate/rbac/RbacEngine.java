package io.legate.rbac;

import io.envoyproxy.envoy.config.rbac.v3.Permission;
import io.envoyproxy.envoy.config.rbac.v3.Policy;
import io.envoyproxy.envoy.config.rbac.v3.Principal;
import io.envoyproxy.envoy.config.rbac.v3.RBAC;
import io.legate.config.ConfigException;
import io.legate.router.HeaderMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Envoy's RBAC engine for one {@code RBAC} message: an action and named policies, each matching when
 * one of its permissions and one of its principals match. Policies are tried in name order (Envoy
 * keeps them in an ordered map) and the first that matches is the effective policy. Immutable.
 */
public final class RbacEngine {
  /** The engine's action. */
  public enum Action {
    /** Allows what a policy matches, denies the rest. */
    ALLOW,
    /** Denies what a policy matches, allows the rest. */
    DENY,
    /** Allows everything; what a policy matches is logged. */
    LOG
  }

  /**
   * A compiled policy.
   *
   * @param name the policy's name
   * @param permissions any of these must match
   * @param principals and any of these
   * @param deniedDetails Envoy's response code details when this policy decides a denial
   */
  public record CompiledPolicy(String name, Matcher permissions, Matcher principals, String deniedDetails) {
    /** Returns whether the policy matches. */
    public boolean matches(RbacInput in) {
      return permissions.matches(in) && principals.matches(in);
    }
  }

  /** The response code details of a denial that no policy decided. */
  public static final String DENIED_NO_POLICY = details("none");

  private final Action action;
  private final List<CompiledPolicy> policies;

  private RbacEngine(Action action, List<CompiledPolicy> policies) {
    this.action = action;
    this.policies = policies;
  }

  /**
   * Compiles an RBAC message.
   *
   * @param path the message's field path, for errors
   */
  public static RbacEngine build(RBAC rbac, String path) {
    Action action = switch (rbac.getAction()) {
      case ALLOW -> Action.ALLOW;
      case DENY -> Action.DENY;
      case LOG -> Action.LOG;
      default -> throw new ConfigException(path + ".action", "unknown action " + rbac.getActionValue());
    };
    if (rbac.hasAuditLoggingOptions()) {
      throw new ConfigException(path + ".audit_logging_options", "RBAC audit loggers are not supported");
    }
    List<CompiledPolicy> list = new ArrayList<>();
    for (Map.Entry<String, Policy> e : new TreeMap<>(rbac.getPoliciesMap()).entrySet()) {
      String pp = path + ".policies[\"" + e.getKey() + "\"]";
      Policy p = e.getValue();
      if (p.hasCondition()) {
        throw new ConfigException(pp + ".condition", "CEL conditions are not supported");
      }
      if (p.hasCheckedCondition()) {
        throw new ConfigException(pp + ".checked_condition", "CEL conditions are not supported");
      }
      if (p.getPermissionsCount() == 0) {
        throw new ConfigException(pp + ".permissions", "a policy needs at least one permission");
      }
      if (p.getPrincipalsCount() == 0) {
        throw new ConfigException(pp + ".principals", "a policy needs at least one principal");
      }
      List<Matcher> perms = new ArrayList<>();
      for (int i = 0; i < p.getPermissionsCount(); i++) {
        perms.add(permission(p.getPermissions(i), pp + ".permissions[" + i + "]"));
      }
      List<Matcher> ids = new ArrayList<>();
      for (int i = 0; i < p.getPrincipalsCount(); i++) {
        ids.add(principal(p.getPrincipals(i), pp + ".principals[" + i + "]"));
      }
      list.add(new CompiledPolicy(e.getKey(), or(perms), or(ids), details(e.getKey())));
    }
    return new RbacEngine(action, List.copyOf(list));
  }

  private static String details(String policy) {
    // As Envoy: whitespace in the policy name becomes '_' so access logs keep their columns.
    return "rbac_access_denied_matched_policy[" + policy.replaceAll("\\s", "_") + "]";
  }

  private static Matcher or(List<Matcher> ms) {
    return ms.size() == 1 ? ms.get(0) : new Matcher.Or(List.copyOf(ms));
  }

  /** Compiles a Permission. */
  public static Matcher permission(Permission p, String path) {
    switch (p.getRuleCase()) {
      case AND_RULES: {
        List<Matcher> ms = new ArrayList<>();
        var rules = p.getAndRules().getRulesList();
        for (int i = 0; i < rules.size(); i++) {
          ms.add(permission(rules.get(i), path + ".and_rules.rules[" + i + "]"));
        }
        return new Matcher.And(List.copyOf(ms));
      }
      case OR_RULES: {
        List<Matcher> ms = new ArrayList<>();
        var rules = p.getOrRules().getRulesList();
        for (int i = 0; i < rules.size(); i++) {
          ms.add(permission(rules.get(i), path + ".or_rules.rules[" + i + "]"));
        }
        return new Matcher.Or(List.copyOf(ms));
      }
      case ANY:
        if (!p.getAny()) {
          throw new ConfigException(path + ".any", "must be true");
        }
        return Matcher.ANY;
      case HEADER:
        return new Matcher.Header(HeaderMatch.build(p.getHeader(), path + ".header"));
      case URL_PATH:
        return urlPath(p.getUrlPath(), path + ".url_path");
      case DESTINATION_IP:
        return new Matcher.Ip(Matcher.Address.DESTINATION, Cidr.build(p.getDestinationIp(), path + ".destination_ip"));
      case DESTINATION_PORT: {
        int port = p.getDestinationPort();
        if (port > 65535) {
          throw new ConfigException(path + ".destination_port", "must be at most 65535");
        }
        return new Matcher.DestinationPort(port, port + 1);
      }
      case DESTINATION_PORT_RANGE: {
        var r = p.getDestinationPortRange();
        if (r.getStart() > r.getEnd()) {
          throw new ConfigException(path + ".destination_port_range", "start must not be greater than end");
        }
        return new Matcher.DestinationPort(r.getStart(), r.getEnd());
      }
      case NOT_RULE:
        return new Matcher.Not(permission(p.getNotRule(), path + ".not_rule"));
      case REQUESTED_SERVER_NAME:
        return new Matcher.ServerName(StringMatch.build(p.getRequestedServerName(), path + ".requested_server_name"));
      case METADATA:
        throw new ConfigException(path + ".metadata", "metadata permissions are not supported");
      case SOURCED_METADATA:
        throw new ConfigException(path + ".sourced_metadata", "metadata permissions are not supported");
      case MATCHER:
        throw new ConfigException(path + ".matcher", "extension permissions are not supported");
      case URI_TEMPLATE:
        throw new ConfigException(path + ".uri_template", "uri_template permissions are not supported");
      default:
        throw new ConfigException(path, "a permission needs one rule");
    }
  }

  /** Compiles a Principal. */
  public static Matcher principal(Principal p, String path) {
    switch (p.getIdentifierCase()) {
      case AND_IDS: {
        List<Matcher> ms = new ArrayList<>();
        var ids = p.getAndIds().getIdsList();
        for (int i = 0; i < ids.size(); i++) {
          ms.add(principal(ids.get(i), path + ".and_ids.ids[" + i + "]"));
        }
        return new Matcher.And(List.copyOf(ms));
      }
      case OR_IDS: {
        List<Matcher> ms = new ArrayList<>();
        var ids = p.getOrIds().getIdsList();
        for (int i = 0; i < ids.size(); i++) {
          ms.add(principal(ids.get(i), path + ".or_ids.ids[" + i + "]"));
        }
        return new Matcher.Or(List.copyOf(ms));
      }
      case ANY:
        if (!p.getAny()) {
          throw new ConfigException(path + ".any", "must be true");
        }
        return Matcher.ANY;
      case AUTHENTICATED:
        return new Matcher.Authenticated(
            p.getAuthenticated().hasPrincipalName()
                ? StringMatch.build(p.getAuthenticated().getPrincipalName(), path + ".authenticated.principal_name")
                : null);
      case SOURCE_IP:
        return new Matcher.Ip(Matcher.Address.DIRECT_REMOTE, Cidr.build(p.getSourceIp(), path + ".source_ip"));
      case DIRECT_REMOTE_IP:
        return new Matcher.Ip(
            Matcher.Address.DIRECT_REMOTE, Cidr.build(p.getDirectRemoteIp(), path + ".direct_remote_ip"));
      case REMOTE_IP:
        return new Matcher.Ip(Matcher.Address.REMOTE, Cidr.build(p.getRemoteIp(), path + ".remote_ip"));
      case HEADER:
        return new Matcher.Header(HeaderMatch.build(p.getHeader(), path + ".header"));
      case URL_PATH:
        return urlPath(p.getUrlPath(), path + ".url_path");
      case NOT_ID:
        return new Matcher.Not(principal(p.getNotId(), path + ".not_id"));
      case METADATA:
        throw new ConfigException(path + ".metadata", "metadata principals are not supported");
      case SOURCED_METADATA:
        throw new ConfigException(path + ".sourced_metadata", "metadata principals are not supported");
      case FILTER_STATE:
        throw new ConfigException(path + ".filter_state", "filter_state principals are not supported");
      case CUSTOM:
        throw new ConfigException(path + ".custom", "extension principals are not supported");
      default:
        throw new ConfigException(path, "a principal needs one identifier");
    }
  }

  private static Matcher urlPath(io.envoyproxy.envoy.type.matcher.v3.PathMatcher m, String path) {
    if (!m.hasPath()) {
      throw new ConfigException(path + ".path", "must be set");
    }
    return new Matcher.UrlPath(StringMatch.build(m.getPath(), path + ".path"));
  }

  /** Returns the action. */
  public Action action() {
    return action;
  }

  /** Returns the policies in evaluation (name) order. */
  public List<CompiledPolicy> policies() {
    return policies;
  }

  /** Returns the first policy (in name order) that matches, or null. */
  public CompiledPolicy match(RbacInput in) {
    for (int i = 0; i < policies.size(); i++) {
      CompiledPolicy p = policies.get(i);
      if (p.matches(in)) {
        return p;
      }
    }
    return null;
  }

  /** Returns whether a request whose effective policy is {@code matched} (or null) is allowed. */
  public boolean allowed(CompiledPolicy matched) {
    return switch (action) {
      case ALLOW -> matched != null;
      case DENY -> matched == null;
      case LOG -> true;
    };
  }

  /** Returns Envoy's response code details for a denial decided by {@code matched} (or none). */
  public static String deniedDetails(CompiledPolicy matched) {
    return matched == null ? DENIED_NO_POLICY : matched.deniedDetails();
  }
}
