// load_config and the main file's simple sections. Sections are read in an order that lets
// later ones check references to earlier ones (routes name receivers and time intervals).

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "sections.hpp"

namespace promwatch {
namespace config_detail {
namespace {

// Prometheus and Alertmanager both trim the path's trailing slashes of their external URL
// (strings.TrimRight(u.Path, "/")); the query and fragment stay.
std::string trim_external_url(std::string_view url) {
  std::size_t scheme = url.find("://");
  std::size_t path_start = scheme == std::string_view::npos ? 0 : url.find_first_of("/?#", scheme + 3);
  if (path_start == std::string_view::npos) return std::string(url);
  std::size_t path_end = url.find_first_of("?#", path_start);
  if (path_end == std::string_view::npos) path_end = url.size();
  std::size_t trimmed = path_end;
  while (trimmed > path_start && url[trimmed - 1] == '/') --trimmed;
  std::string out(url.substr(0, trimmed));
  out.append(url.substr(path_end));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_header_name(std::string_view name) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

std::optional<BasicAuth> read_basic_auth(TableReader& parent) {
  const toml::table* t = parent.table("basic_auth");
  if (!t) return std::nullopt;
  TableReader r(parent.ctx(), *t, "basic_auth", {"username", "password", "password_file"});
  const std::size_t before = r.ctx().error_count();
  BasicAuth auth;
  if (r.require("username")) auth.username = r.string("username").value_or("");
  if (!r.has("password") && !r.has("password_file")) {
    r.ctx().error(r.pos(), "missing required key \"password\" (or \"password_file\") in basic_auth");
  } else {
    auth.password = r.secret("password").value_or("");
  }
  if (r.ctx().error_count() != before) return std::nullopt;
  return auth;
}

bool is_token(std::string_view s) {
  return is_header_name(s);
}

// A path or glob list: each entry relative to the config's directory. A glob that matches
// nothing is fine (a warning); a literal path that does not exist is an error.
std::vector<std::string> expand_globs(TableReader& r, std::string_view key,
                                      std::vector<std::string>* as_written = nullptr) {
  std::vector<std::string> out;
  auto patterns = r.strings(key);
  if (!patterns) return out;
  if (as_written) *as_written = *patterns;
  const auto* arr = r.get(key)->as_array();
  for (std::size_t i = 0; i < patterns->size(); ++i) {
    const SourcePos pos = r.ctx().pos(*arr->get(i));
    const std::string what = std::string(key) + "[" + std::to_string(i) + "]";
    const std::string& pattern = (*patterns)[i];
    if (pattern.empty()) {
      r.ctx().error(pos, what + ": must not be empty");
      continue;
    }
    const std::string resolved = r.ctx().resolve_path(pattern);
    if (resolved.find_first_of("*?[") == std::string::npos) {
      struct stat st {};
      if (::stat(resolved.c_str(), &st) != 0) {
        r.ctx().error(pos, what + ": \"" + resolved + "\": " + std::strerror(errno));
      } else if (S_ISDIR(st.st_mode)) {
        r.ctx().error(pos, what + ": \"" + resolved + "\" is a directory; use a glob like \"" + pattern + "/*.toml\"");
      } else if (std::find(out.begin(), out.end(), resolved) == out.end()) {
        out.push_back(resolved);
      }
      continue;
    }
    glob_t g{};
    const int rc = ::glob(resolved.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (std::size_t j = 0; j < g.gl_pathc; ++j) {
        std::string match = g.gl_pathv[j];
        struct stat st {};
        if (::stat(match.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
        if (std::find(out.begin(), out.end(), match) == out.end()) out.push_back(std::move(match));
      }
    } else if (rc == GLOB_NOMATCH) {
      r.ctx().warning(pos, what + ": \"" + resolved + "\" matches no files");
    } else {
      r.ctx().error(pos, what + ": cannot expand \"" + resolved + "\": " + std::strerror(errno));
    }
    ::globfree(&g);
  }
  return out;
}

// host:port, [v6]:port or :port.
bool is_listen_address(std::string_view s) {
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1 || s.substr(close + 1, 1) != ":") return false;
    port = s.substr(close + 2);
  } else {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string_view host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return false;
    if (std::any_of(host.begin(), host.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
      return false;
    port = s.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return std::stoi(std::string(port)) <= 65535;
}

void read_global(TableReader& root, Config& config, const EnvLookup& env,
                 std::vector<std::string>& rule_file_paths) {
  GlobalConfig& g = config.global;
  const toml::table* t = root.table("global");
  if (t) {
    TableReader r(root.ctx(), *t, "[global]",
                  {"evaluation_interval", "rule_files", "state_dir", "external_url", "external_labels",
                   "generator_url", "outage_tolerance", "for_grace_period",
                   "history_retention"});
    if (auto v = r.duration("evaluation_interval", true)) g.evaluation_interval = *v;
    rule_file_paths = expand_globs(r, "rule_files", &g.rule_files);
    if (auto v = r.string("state_dir")) g.state_dir = *v;
    if (auto v = r.string("external_url")) {
      if (!v->empty() && !is_http_url(*v)) {
        r.ctx().error(r.value_pos("external_url"), "external_url: expected an http:// or https:// URL with a host");
      } else {
        g.external_url = trim_external_url(*v);
      }
    }
    if (auto v = r.labels("external_labels")) g.external_labels = *v;
    if (auto v = r.string("generator_url")) g.generator_url = *v;
    if (auto v = r.duration("outage_tolerance")) g.outage_tolerance = *v;
    if (auto v = r.duration("for_grace_period")) g.for_grace_period = *v;
    if (auto v = r.duration("history_retention")) g.history_retention = *v;
  }
  if (g.state_dir.empty()) {
    // systemd's StateDirectory= may list several directories separated by colons: use the first.
    if (auto dir = env ? env("STATE_DIRECTORY") : std::nullopt; dir && !dir->empty()) {
      g.state_dir = dir->substr(0, dir->find(':'));
    } else {
      g.state_dir = "./data";
    }
  }
}

void read_datasource(TableReader& root, Config& config) {
  DatasourceConfig& ds = config.datasource;
  const toml::table* t = root.table("datasource");
  if (!t) {
    if (!root.has("datasource")) root.ctx().error(SourcePos{root.ctx().file()}, "missing required table [datasource]");
    return;
  }
  TableReader r(root.ctx(), *t, "[datasource]",
                with_http_keys({"url", "method", "query_params", "max_concurrent_queries", "max_response_bytes",
                                "retries", "down_after"}));
  if (r.require("url")) {
    if (auto v = r.url("url", false)) ds.url = *v;
  }
  if (auto v = r.string("method")) {
    std::string m = *v;
    std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::toupper(c); });
    if (m != "POST" && m != "GET") {
      r.ctx().error(r.value_pos("method"), "method: must be \"POST\" or \"GET\", got \"" + *v + "\"");
    } else {
      ds.method = m;
    }
  }
  if (auto v = r.string_map("query_params")) ds.query_params = *v;
  read_http_endpoint(r, ds.http);
  if (auto v = r.integer("max_concurrent_queries", 1, 1000000)) ds.max_concurrent_queries = static_cast<int>(*v);
  if (auto v = r.size("max_response_bytes")) ds.max_response_bytes = *v;
  if (auto v = r.integer("retries", 0, 100)) ds.retries = static_cast<int>(*v);
  if (auto v = r.integer("down_after", 1, 1000000)) ds.down_after = static_cast<int>(*v);
}

void read_server(TableReader& root, Config& config) {
  ServerConfig& s = config.server;
  const toml::table* t = root.table("server");
  if (!t) return;
  TableReader r(root.ctx(), *t, "[server]",
                {"listen", "basic_auth", "tls", "enable_lifecycle", "enable_silence_api"});
  if (auto v = r.string("listen")) {
    if (!is_listen_address(*v)) {
      r.ctx().error(r.value_pos("listen"),
                    "listen: expected \"host:port\", \"[ipv6]:port\" or \":port\", got \"" + *v + "\"");
    } else {
      s.listen = *v;
    }
  }
  s.basic_auth = read_basic_auth(r);
  if (const toml::table* tls = r.table("tls")) {
    TableReader tr(r.ctx(), *tls, "tls", {"cert_file", "key_file"});
    // Both are checked (and reported) before combining: no short-circuit.
    const bool has_cert = tr.require("cert_file");
    const bool has_key = tr.require("key_file");
    const bool ok = has_cert && has_key;
    auto cert = tr.path("cert_file", true);
    auto key = tr.path("key_file", true);
    if (ok && cert && key) {
      s.tls_cert_file = *cert;
      s.tls_key_file = *key;
    }
  }
  if (auto v = r.boolean("enable_lifecycle")) s.enable_lifecycle = *v;
  if (auto v = r.boolean("enable_silence_api")) s.enable_silence_api = *v;
}

void read_notify(TableReader& root, Config& config) {
  NotifyConfig& n = config.notify;
  const toml::table* t = root.table("notify");
  if (!t) return;
  TableReader r(root.ctx(), *t, "[notify]",
                {"timeout", "max_attempts", "shutdown_grace", "max_response_bytes", "templates"});
  if (auto v = r.duration("timeout", true)) n.timeout = *v;
  if (auto v = r.integer("max_attempts", 0, 1000000)) n.max_attempts = static_cast<int>(*v);
  if (auto v = r.duration("shutdown_grace")) n.shutdown_grace = *v;
  if (auto v = r.size("max_response_bytes")) n.max_response_bytes = *v;
  n.templates = expand_globs(r, "templates");
}

void read_deadman(TableReader& root, Config& config) {
  const toml::table* t = root.table("deadman");
  if (!t) return;
  TableReader r(root.ctx(), *t, "[deadman]", with_http_keys({"url", "url_file", "interval"}));
  DeadmanConfig d;
  d.http.timeout = config.notify.timeout;
  if (!r.has("url") && !r.has("url_file")) {
    r.ctx().error(r.pos(), "missing required key \"url\" (or \"url_file\") in [deadman]");
  } else if (auto v = r.url("url", true)) {
    d.url = *v;
  }
  if (auto v = r.duration("interval", true)) d.interval = *v;
  read_http_endpoint(r, d.http);
  config.deadman = std::move(d);
}

void read_alertmanagers(TableReader& root, Config& config) {
  for (const toml::table* t : root.tables("alertmanagers")) {
    TableReader r(root.ctx(), *t, "[[alertmanagers]]", with_http_keys({"url", "resend_delay"}));
    AlertmanagerConfig am;
    am.pos = r.pos();
    am.http.timeout = config.notify.timeout;
    if (r.require("url")) {
      if (auto v = r.url("url", false)) am.url = *v;
    }
    if (auto v = r.duration("resend_delay", true)) am.resend_delay = *v;
    read_http_endpoint(r, am.http);
    config.alertmanagers.push_back(std::move(am));
  }
}

bool is_cluster_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

void read_cluster(TableReader& root, Config& config) {
  const toml::table* t = root.table("cluster");
  if (!t) return;
  TableReader r(root.ctx(), *t, "[cluster]",
                with_http_keys({"etcd_endpoints", "name", "member", "lease_ttl", "fail_open_after"}));
  ClusterConfig c;
  c.pos = r.pos();
  c.http.timeout = std::chrono::seconds(5);
  if (r.require("etcd_endpoints")) {
    if (auto v = r.strings("etcd_endpoints")) {
      if (v->empty()) r.ctx().error(r.value_pos("etcd_endpoints"), "etcd_endpoints: at least one etcd URL is needed");
      for (std::size_t i = 0; i < v->size(); ++i) {
        const std::string& url = (*v)[i];
        if (!is_http_url(url)) {
          r.ctx().error(r.value_pos("etcd_endpoints"), "etcd_endpoints[" + std::to_string(i) +
                                                           "]: expected an http:// or https:// URL with a host");
        } else {
          c.etcd_endpoints.push_back(url);
        }
      }
    }
  }
  if (auto v = r.string("name")) {
    // The name is an etcd key prefix: replicated state lives under "<name>#state/", which no
    // other cluster's election prefix ("<other>/") can reach while '#' and '/' are not allowed.
    if (!is_cluster_name(*v)) {
      r.ctx().error(r.value_pos("name"), "name: use letters, digits, '_', '.' and '-' only, got \"" + *v + "\"");
    } else {
      c.name = *v;
    }
  }
  if (auto v = r.string("member")) {
    if (v->empty()) {
      r.ctx().error(r.value_pos("member"), "member: must not be empty (leave it out for the host name)");
    } else {
      c.member = *v;
    }
  }
  if (c.member.empty()) {
    char host[256] = {};
    c.member = gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' ? host : "promwatch";
  }
  if (auto v = r.duration("lease_ttl", true)) {
    // etcd grants no lease shorter than its minimum TTL (1.5 s with default election timing)
    // and counts in whole seconds.
    if (*v < std::chrono::seconds(2) || *v % std::chrono::seconds(1) != Duration::zero()) {
      r.ctx().error(r.value_pos("lease_ttl"), "lease_ttl: must be whole seconds, at least 2s, got \"" +
                                                   format_duration(*v) + "\"");
    } else {
      c.lease_ttl = *v;
    }
  }
  if (auto v = r.duration("fail_open_after", true)) c.fail_open_after = *v;
  if (c.fail_open_after <= c.lease_ttl) {
    r.ctx().error(r.has("fail_open_after") ? r.value_pos("fail_open_after") : r.pos(),
                  "fail_open_after (" + format_duration(c.fail_open_after) + ") must be longer than lease_ttl (" +
                      format_duration(c.lease_ttl) + "): a replica would notify on its own before a leader's lease ran out");
  }
  read_http_endpoint(r, c.http);
  config.cluster = std::move(c);
}

void read_remote_write(TableReader& root, Config& config) {
  const toml::table* t = root.table("remote_write");
  if (!t) return;
  TableReader r(root.ctx(), *t, "[remote_write]",
                with_http_keys({"url", "url_file", "max_samples_per_send", "queue_capacity"}));
  RemoteWriteConfig rw;
  rw.pos = r.pos();
  rw.http.timeout = std::chrono::seconds(30);  // Prometheus's remote_timeout
  if (!r.has("url") && !r.has("url_file")) {
    r.ctx().error(r.pos(), "missing required key \"url\" (or \"url_file\") in [remote_write]");
  } else if (auto v = r.url("url", true)) {
    rw.url = *v;
  }
  if (auto v = r.integer("max_samples_per_send", 1, 1000000)) rw.max_samples_per_send = static_cast<int>(*v);
  if (auto v = r.integer("queue_capacity", 1, 100000000)) rw.queue_capacity = static_cast<std::size_t>(*v);
  if (rw.queue_capacity < static_cast<std::size_t>(rw.max_samples_per_send)) {
    r.ctx().error(r.has("queue_capacity") ? r.value_pos("queue_capacity") : r.pos(),
                  "queue_capacity (" + std::to_string(rw.queue_capacity) + ") must be at least max_samples_per_send (" +
                      std::to_string(rw.max_samples_per_send) + ")");
  }
  read_http_endpoint(r, rw.http);
  config.remote_write = std::move(rw);
}

}  // namespace

std::vector<std::string_view> with_http_keys(std::vector<std::string_view> keys) {
  for (std::string_view k : {"basic_auth", "authorization", "headers", "tls", "proxy_url", "timeout"}) {
    keys.push_back(k);
  }
  return keys;
}

void read_http_endpoint(TableReader& r, HttpEndpointConfig& out) {
  Context& ctx = r.ctx();
  out.basic_auth = read_basic_auth(r);
  if (const toml::table* t = r.table("authorization")) {
    TableReader a(ctx, *t, "authorization", {"type", "credentials", "credentials_file"});
    Authorization auth;
    const std::size_t before = ctx.error_count();
    if (auto type = a.string("type")) {
      if (!is_token(*type)) {
        ctx.error(a.value_pos("type"),
                  "type: expected an authorization scheme like \"Bearer\" (or \"raw\" for the bare credentials)");
      } else if (iequals(*type, "basic")) {
        ctx.error(a.value_pos("type"), "type: \"" + *type + "\" is not allowed here; use basic_auth");
      } else {
        auth.type = *type;
      }
    }
    if (!a.has("credentials") && !a.has("credentials_file")) {
      ctx.error(a.pos(), "missing required key \"credentials\" (or \"credentials_file\") in authorization");
    } else {
      auth.credentials = a.secret("credentials").value_or("");
    }
    if (r.has("basic_auth")) {
      ctx.error(r.key_pos("authorization"), "basic_auth and authorization are mutually exclusive; set only one");
    }
    if (ctx.error_count() == before) out.authorization = std::move(auth);
  }
  if (const toml::node* h = r.get("headers"); h && h->is_table()) {
    // Names are checked here (the values are secrets and never printed).
    for (auto&& [key, value] : *h->as_table()) {
      const std::string name(key.str());
      if (iequals(name, "authorization")) {
        ctx.error(ctx.pos(key.source()), "headers: \"" + name +
                                             "\" is not allowed here; use the authorization table "
                                             "(authorization = { type = \"Bearer\", credentials_file = \"...\" })");
      } else if (!is_header_name(name)) {
        ctx.error(ctx.pos(key.source()), "headers: invalid header name \"" + name + "\"");
      }
    }
  }
  if (auto headers = r.string_map("headers")) {
    for (auto& [name, value] : *headers) {
      if (iequals(name, "authorization") || !is_header_name(name)) continue;
      if (value.find_first_of("\r\n") != std::string::npos) {
        ctx.error(r.value_pos("headers"), "headers." + name + ": value must not contain line breaks");
        continue;
      }
      out.headers.emplace_back(name, value);
    }
  }
  if (const toml::table* t = r.table("tls")) {
    TableReader tr(ctx, *t, "tls", {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"});
    if (auto v = tr.path("ca_file", true)) out.tls.ca_file = *v;
    if (auto v = tr.path("cert_file", true)) out.tls.cert_file = *v;
    if (auto v = tr.path("key_file", true)) out.tls.key_file = *v;
    if (out.tls.cert_file.empty() != out.tls.key_file.empty()) {
      ctx.error(tr.pos(), "tls: cert_file and key_file must be set together");
    }
    if (auto v = tr.string("server_name")) out.tls.server_name = *v;
    if (auto v = tr.boolean("insecure_skip_verify")) out.tls.insecure_skip_verify = *v;
  }
  if (auto v = r.string("proxy_url")) {
    // Proxy URLs may carry credentials: never printed.
    const std::size_t sep = v->find("://");
    const std::string scheme = sep == std::string::npos ? "" : v->substr(0, sep);
    static const std::vector<std::string> schemes = {"http", "https", "socks4", "socks4a", "socks5", "socks5h"};
    if (!v->empty() && (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end() ||
                        v->size() == sep + 3)) {
      ctx.error(r.value_pos("proxy_url"),
                "proxy_url: expected a URL like \"http://proxy:3128\" (http, https, socks4, socks5 or socks5h)");
    } else {
      out.proxy_url = *v;
    }
  }
  if (auto v = r.duration("timeout", true)) out.timeout = *v;
}

}  // namespace config_detail

LoadResult load_config(const std::string& path, const EnvLookup& env) {
  using namespace config_detail;
  Diagnostics diag;
  LoadResult result;
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(path, ec).lexically_normal();
  const std::string base_dir = abs.parent_path().string();

  std::string read_error;
  auto text = read_file(path, &read_error);
  if (!text) {
    result.errors.push_back({SourcePos{path}, read_error});
    return result;
  }
  toml::table doc;
  try {
    doc = toml::parse(std::string_view(*text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    result.errors.push_back({SourcePos{path, static_cast<int>(e.source().begin.line),
                                       static_cast<int>(e.source().begin.column)},
                             std::string(e.description())});
    return result;
  }

  Config config;
  config.path = abs.string();
  Context ctx(path, base_dir, &env, diag);
  TableReader root(ctx, doc, "the main config",
                   {"global", "datasource", "server", "notify", "deadman", "alertmanagers", "cluster", "remote_write",
                    "receivers", "route", "inhibit_rules", "time_intervals", "silences"});
  std::vector<std::string> rule_file_paths;
  read_global(root, config, env, rule_file_paths);
  read_datasource(root, config);
  read_server(root, config);
  read_notify(root, config);
  read_deadman(root, config);
  read_alertmanagers(root, config);
  read_cluster(root, config);
  read_remote_write(root, config);
  read_time_intervals(root, config);
  read_silences(root, config);
  read_receivers(root, config);
  read_route(root, config);
  read_inhibit_rules(root, config);

  // Rule files: every file the globs of global.rule_files matched, each once, in order.
  GroupNames names;
  for (const auto& file : rule_file_paths) load_rule_file(file, diag, config, names);
  // A recording rule's result exists only as what it writes (SPEC §3).
  if (!config.remote_write) {
    for (const auto& group : config.groups) {
      for (const auto& rule : group.recording_rules) {
        if (rule.record.empty()) continue;  // its own error was reported
        diag.errors.push_back({rule.pos, "recording rule \"" + rule.record +
                                             "\" needs [remote_write] in the main config: its results are written there"});
      }
    }
  }

  // Report in reading order: main file first, then each rule file, each by line and column,
  // as a compiler would (sections are read in dependency order, not file order).
  auto by_position = [](std::vector<ConfigError>& list) {
    std::vector<std::string> files;
    for (const auto& e : list) {
      if (std::find(files.begin(), files.end(), e.pos.file) == files.end()) files.push_back(e.pos.file);
    }
    auto rank = [&](const ConfigError& e) {
      return std::tuple(std::find(files.begin(), files.end(), e.pos.file) - files.begin(), e.pos.line, e.pos.column);
    };
    std::stable_sort(list.begin(), list.end(),
                     [&](const ConfigError& a, const ConfigError& b) { return rank(a) < rank(b); });
  };
  by_position(diag.errors);
  by_position(diag.warnings);
  result.errors = std::move(diag.errors);
  result.warnings = std::move(diag.warnings);
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

}  // namespace promwatch
