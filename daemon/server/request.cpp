// ServerRequest/ServerResponse helpers and the pure parsing functions of the HTTP server.

#include "promwatch/http_server.hpp"

#include <boost/asio/ip/address.hpp>

#include "server_internal.hpp"

namespace promwatch {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> form_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

namespace server_detail {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  if (semi != std::string_view::npos) content_type = content_type.substr(0, semi);
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t'))
    content_type.remove_prefix(1);
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t'))
    content_type.remove_suffix(1);
  return content_type;
}

bool origin_matches_host(std::string_view origin, std::string_view host) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.size() > scheme.size() && iequals(origin.substr(0, scheme.size()), scheme)) {
      std::string_view rest = origin.substr(scheme.size());
      if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
      return iequals(rest, host);
    }
  }
  return false;  // "null" or garbage
}

}  // namespace server_detail

const std::string* ServerRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (server_detail::iequals(k, name)) return &v;
  return nullptr;
}

const std::string* ServerRequest::query_param(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? nullptr : &it->second;
}

std::vector<std::string> ServerRequest::query_params(std::string_view name) const {
  std::vector<std::string> out;
  auto [first, last] = query.equal_range(std::string(name));
  for (auto it = first; it != last; ++it) out.push_back(it->second);
  return out;
}

ServerResponse ServerResponse::text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ServerResponse ServerResponse::json(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::optional<std::multimap<std::string, std::string>> parse_query_string(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace(std::move(*key), std::move(*value));  // multimap keeps insertion order per key
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  std::string_view name;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && all_digits(rest.substr(1)))) return false;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address_v6(std::string(name), ec);
    return !ec && addr.is_loopback();
  }
  auto colon = host.find(':');
  name = host.substr(0, colon);
  if (colon != std::string_view::npos && !all_digits(host.substr(colon + 1))) return false;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "localhost."
  if (server_detail::iequals(name, "localhost")) return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address_v4(std::string(name), ec);
  return !ec && addr.is_loopback();
}

}  // namespace promwatch
