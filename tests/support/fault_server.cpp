#include "support/fault_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"

namespace promwatch::test {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Canned answers

namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* kVectorHead = R"({"status":"success","data":{"resultType":"vector","result":[)";
const char* kVectorTail = "]}}";

std::string one_sample_vector(double value) {
  return std::string(kVectorHead) + R"({"metric":{"__name__":"up","instance":"fault:1"},"value":[1700000000,")" +
         format_value(value) + R"("]})" + kVectorTail;
}

}  // namespace

Fault Fault::ok_vector(double value) {
  Fault f;
  f.label = "ok";
  f.headers = {{"Content-Type", "application/json"}};
  f.body = one_sample_vector(value);
  return f;
}

Fault Fault::vector(const std::vector<std::pair<std::map<std::string, std::string>, double>>& samples) {
  Fault f;
  f.label = "vector";
  f.headers = {{"Content-Type", "application/json"}};
  std::string body = kVectorHead;
  bool first = true;
  for (const auto& [labels, value] : samples) {
    if (!first) body += ',';
    first = false;
    body += R"({"metric":{)";
    bool first_label = true;
    for (const auto& [k, v] : labels) {
      if (!first_label) body += ',';
      first_label = false;
      body += '"' + json_escape(k) + "\":\"" + json_escape(v) + '"';
    }
    body += R"(},"value":[1700000000,")" + format_value(value) + R"("]})";
  }
  body += kVectorTail;
  f.body = std::move(body);
  return f;
}

Fault Fault::hang() {
  Fault f;
  f.kind = Kind::Hang;
  f.label = "hang";
  return f;
}

Fault Fault::slow_drip(std::chrono::milliseconds interval) {
  Fault f = ok_vector();
  f.kind = Kind::SlowDrip;
  f.label = "slow drip";
  f.drip_interval = interval;
  return f;
}

Fault Fault::reset_mid_body() {
  Fault f = ok_vector();
  f.kind = Kind::ResetMidBody;
  f.label = "reset mid-body";
  return f;
}

Fault Fault::huge_body(std::size_t bytes) {
  Fault f;
  f.kind = Kind::HugeBody;
  f.label = "huge body";
  f.headers = {{"Content-Type", "application/json"}};
  f.huge_bytes = bytes;
  return f;
}

Fault Fault::close_at_once() {
  Fault f;
  f.kind = Kind::CloseAtOnce;
  f.label = "close at once";
  return f;
}

Fault Fault::reset_at_once() {
  Fault f;
  f.kind = Kind::ResetAtOnce;
  f.label = "reset at once";
  return f;
}

Fault Fault::truncated_json() {
  Fault f = ok_vector();
  f.label = "truncated JSON";
  f.body = f.body.substr(0, f.body.size() / 2);
  return f;
}

Fault Fault::non_json() {
  Fault f;
  f.label = "non-JSON";
  f.headers = {{"Content-Type", "text/plain"}};
  f.body = "this is not JSON at all\n";
  return f;
}

Fault Fault::html_error(int status) {
  Fault f;
  f.label = "HTML error page";
  f.status = status;
  f.headers = {{"Content-Type", "text/html"}};
  std::string code = std::to_string(status);
  f.body = "<html>\r\n<head><title>" + code + " Bad Gateway</title></head>\r\n<body>\r\n<center><h1>" + code +
           " Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
  return f;
}

Fault Fault::prometheus_error(const std::string& error_type, const std::string& message) {
  static const std::map<std::string, int> kStatus = {{"bad_data", 400}, {"execution", 422}, {"canceled", 499},
                                                     {"timeout", 503},  {"internal", 500},  {"unavailable", 503},
                                                     {"not_found", 404}};
  Fault f;
  f.label = "status:error " + error_type;
  auto it = kStatus.find(error_type);
  f.status = it == kStatus.end() ? 400 : it->second;
  f.headers = {{"Content-Type", "application/json"}};
  f.body = R"({"status":"error","errorType":")" + json_escape(error_type) + R"(","error":")" + json_escape(message) +
           R"("})";
  return f;
}

Fault Fault::http_status(int code, int retry_after_seconds) {
  Fault f;
  f.label = "HTTP " + std::to_string(code);
  f.status = code;
  f.headers = {{"Content-Type", "text/plain"}};
  if (retry_after_seconds >= 0) f.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  f.body = "fault server says " + std::to_string(code) + "\n";
  return f;
}

Fault Fault::redirect(int code, const std::string& location) {
  Fault f;
  f.label = "redirect " + std::to_string(code);
  f.status = code;
  f.headers = {{"Location", location}, {"Content-Type", "text/plain"}};
  f.body = "moved\n";
  return f;
}

Fault Fault::wrong_content_type() {
  Fault f = ok_vector();
  f.label = "wrong Content-Type";
  f.headers = {{"Content-Type", "text/html; charset=iso-8859-1"}};
  return f;
}

Fault Fault::gzip_vector() {
  Fault f = ok_vector();
  f.label = "gzip";
  f.body = gzip_encode(f.body);
  f.headers.emplace_back("Content-Encoding", "gzip");
  return f;
}

Fault Fault::gzip_bomb(std::size_t decoded_bytes) {
  Fault f;
  f.label = "gzip bomb";
  f.headers = {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}};
  f.body = gzip_encode_run(kVectorHead, ' ', decoded_bytes, kVectorTail);
  return f;
}

Fault Fault::accepted() {
  Fault f;
  f.label = "accepted";
  f.headers = {{"Content-Type", "application/json"}};
  f.body = "{}";
  return f;
}

// ---------------------------------------------------------------------------------------------
// gzip with fixed-Huffman deflate

namespace {

class BitWriter {
 public:
  /// `n` bits of `value`, least significant first (header fields, extra bits).
  void bits(std::uint32_t value, int n) {
    for (int i = 0; i < n; ++i) bit((value >> i) & 1u);
  }
  /// A Huffman code, most significant bit first.
  void code(std::uint32_t value, int n) {
    for (int i = n - 1; i >= 0; --i) bit((value >> i) & 1u);
  }
  void literal(unsigned char c) {
    if (c <= 143) code(0x30u + c, 8);
    else code(0x190u + (c - 144u), 9);
  }
  /// A back-reference of length 258 at distance 1 (symbol 285, distance code 0).
  void repeat258() {
    code(0xC5u, 8);
    code(0u, 5);
  }
  std::string finish() {
    if (nbits_ > 0) out_ += static_cast<char>(acc_);
    acc_ = 0;
    nbits_ = 0;
    return std::move(out_);
  }

 private:
  void bit(std::uint32_t b) {
    acc_ |= static_cast<unsigned char>(b << nbits_);
    if (++nbits_ == 8) {
      out_ += static_cast<char>(acc_);
      acc_ = 0;
      nbits_ = 0;
    }
  }
  std::string out_;
  unsigned char acc_ = 0;
  int nbits_ = 0;
};

const std::array<std::uint32_t, 256>& crc_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

std::uint32_t crc_update(std::uint32_t crc, unsigned char byte) {
  return crc_table()[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
}

void put_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFFu);
}

/// Emits a run of `count` copies of `c` (count >= 1).
void emit_run(BitWriter& w, unsigned char c, std::size_t count) {
  w.literal(c);
  --count;
  while (count >= 258) {
    w.repeat258();
    count -= 258;
  }
  while (count-- > 0) w.literal(c);
}

void emit_text(BitWriter& w, const std::string& data) {
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t j = i;
    while (j < data.size() && data[j] == data[i]) ++j;
    emit_run(w, static_cast<unsigned char>(data[i]), j - i);
    i = j;
  }
}

std::string wrap_gzip(std::string deflated, std::uint32_t crc, std::uint64_t size) {
  std::string out = std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  out += deflated;
  put_le32(out, crc);
  put_le32(out, static_cast<std::uint32_t>(size & 0xFFFFFFFFu));
  return out;
}

}  // namespace

std::string gzip_encode(const std::string& data) {
  BitWriter w;
  w.bits(1, 1);  // BFINAL
  w.bits(1, 2);  // BTYPE = 01, fixed Huffman
  emit_text(w, data);
  w.code(0, 7);  // end of block
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) crc = crc_update(crc, c);
  return wrap_gzip(w.finish(), crc ^ 0xFFFFFFFFu, data.size());
}

std::string gzip_encode_run(const std::string& prefix, char byte, std::size_t count, const std::string& suffix) {
  BitWriter w;
  w.bits(1, 1);
  w.bits(1, 2);
  emit_text(w, prefix);
  if (count > 0) emit_run(w, static_cast<unsigned char>(byte), count);
  emit_text(w, suffix);
  w.code(0, 7);
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : prefix) crc = crc_update(crc, c);
  for (std::size_t i = 0; i < count; ++i) crc = crc_update(crc, static_cast<unsigned char>(byte));
  for (unsigned char c : suffix) crc = crc_update(crc, c);
  return wrap_gzip(w.finish(), crc ^ 0xFFFFFFFFu, prefix.size() + count + suffix.size());
}

// ---------------------------------------------------------------------------------------------
// The server

namespace {

std::string reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

struct FaultServer::Impl {
  int listen_fd = -1;
  std::atomic<bool> stopping{false};
  mutable std::mutex mutex;
  Fault fault;
  std::vector<FaultRequest> received;
  std::size_t accepted = 0;
  std::size_t open = 0;
  std::atomic<std::uint64_t> sent{0};
  std::vector<int> fds;  // open connection descriptors, to wake them at shutdown
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Connection> threads;
  std::thread acceptor;

  // Joins the threads of connections that are over (under `mutex`).
  void reap() {
    for (auto it = threads.begin(); it != threads.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = threads.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Waits until `fd` is readable or `timeout` passes; false when stopping or timed out.
  bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!stopping) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
    return false;
  }

  // Sleeps up to `d`; false when stopping.
  bool sleep_for(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (!stopping) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= 0ms) return true;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, 50ms));
    }
    return false;
  }

  bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
      if (stopping) return false;
      ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          pollfd p{fd, POLLOUT, 0};
          ::poll(&p, 1, 100);
          continue;
        }
        return false;
      }
      sent += static_cast<std::uint64_t>(w);
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

  bool read_request(int fd, FaultRequest& out) {
    std::string data;
    char buf[16384];
    std::size_t header_end = std::string::npos;
    while (header_end == std::string::npos) {
      if (!wait_readable(fd, 10s)) return false;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
      header_end = data.find("\r\n\r\n");
      if (data.size() > (1u << 20)) return false;
    }
    std::istringstream head(data.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream request_line(line);
    request_line >> out.method >> out.target;
    std::size_t content_length = 0;
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = lower(line.substr(0, colon));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[name] = value;
      if (name == "content-length") content_length = std::strtoull(value.c_str(), nullptr, 10);
    }
    out.at = std::chrono::steady_clock::now();
    out.body = data.substr(header_end + 4);
    while (out.body.size() < content_length) {
      if (!wait_readable(fd, 10s)) return false;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      out.body.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  std::string head_of(const Fault& f, std::optional<std::size_t> length) {
    std::string h = "HTTP/1.1 " + std::to_string(f.status) + " " + reason_phrase(f.status) + "\r\n";
    for (const auto& [name, value] : f.headers) h += name + ": " + value + "\r\n";
    if (length) h += "Content-Length: " + std::to_string(*length) + "\r\n";
    h += "Connection: close\r\n\r\n";
    return h;
  }

  // After our last byte: half-close and let the client close first, so that no RST destroys the
  // response before the client read it.
  void linger_close(int fd) {
    ::shutdown(fd, SHUT_WR);
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline && wait_readable(fd, 200ms)) {
      if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
    }
  }

  void serve(int fd) {
    FaultRequest request;
    if (!read_request(fd, request)) return;
    Fault f;
    {
      std::lock_guard lock(mutex);
      received.push_back(request);
      f = fault;
    }
    switch (f.kind) {
      case Fault::Kind::Respond:
        if (send_all(fd, head_of(f, f.body.size())) && send_all(fd, f.body)) linger_close(fd);
        return;
      case Fault::Kind::Hang:
        // Hold the connection until the client gives up (EOF/reset) or the server stops.
        while (!stopping) {
          if (wait_readable(fd, 100ms)) {
            char buf[1024];
            if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
          }
        }
        return;
      case Fault::Kind::CloseAtOnce:
        return;
      case Fault::Kind::ResetAtOnce: {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        return;
      }
      case Fault::Kind::SlowDrip: {
        if (!send_all(fd, head_of(f, f.body.size()))) return;
        for (char c : f.body) {
          if (!sleep_for(f.drip_interval) || !send_all(fd, &c, 1)) return;
        }
        linger_close(fd);
        return;
      }
      case Fault::Kind::ResetMidBody: {
        if (!send_all(fd, head_of(f, f.body.size()))) return;
        send_all(fd, f.body.data(), f.body.size() / 2);
        std::this_thread::sleep_for(50ms);
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        return;  // close() now sends RST
      }
      case Fault::Kind::HugeBody: {
        if (!send_all(fd, head_of(f, std::nullopt))) return;
        std::string chunk;
        std::size_t total = 0;
        std::uint64_t i = 0;
        if (!send_all(fd, kVectorHead)) return;
        total += std::strlen(kVectorHead);
        while (total < f.huge_bytes) {
          chunk.clear();
          while (chunk.size() < 65536) {
            chunk += (i ? "," : "");
            chunk += R"({"metric":{"__name__":"big","i":")" + std::to_string(i++) + R"("},"value":[1700000000,"1"]})";
          }
          if (!send_all(fd, chunk)) return;
          total += chunk.size();
        }
        if (send_all(fd, kVectorTail)) linger_close(fd);
        return;
      }
    }
  }
};

FaultServer::FaultServer(Fault initial) : impl_(std::make_shared<Impl>()) {
  impl_->fault = std::move(initial);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("fault server: socket failed");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 256) != 0) {
    ::close(fd);
    throw std::runtime_error("fault server: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  impl_->listen_fd = fd;
  impl_->acceptor = std::thread([impl = impl_.get()] {
    while (!impl->stopping) {
      if (!impl->wait_readable(impl->listen_fd, 1h)) continue;
      int c = ::accept4(impl->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int nodelay = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
      std::lock_guard lock(impl->mutex);
      if (impl->stopping) {
        ::close(c);
        break;
      }
      impl->reap();
      ++impl->accepted;
      ++impl->open;
      impl->fds.push_back(c);
      auto done = std::make_shared<std::atomic<bool>>(false);
      std::thread t([impl, c, done] {
        impl->serve(c);
        std::lock_guard lock(impl->mutex);
        impl->fds.erase(std::remove(impl->fds.begin(), impl->fds.end(), c), impl->fds.end());
        --impl->open;
        ::close(c);
        done->store(true);
      });
      impl->threads.push_back({std::move(t), done});
    }
  });
}

FaultServer::~FaultServer() {
  impl_->stopping = true;
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  std::vector<Impl::Connection> threads;
  {
    std::lock_guard lock(impl_->mutex);
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
    threads.swap(impl_->threads);
  }
  for (auto& c : threads) c.thread.join();
  ::close(impl_->listen_fd);
}

std::string FaultServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultServer::set(Fault fault) {
  std::lock_guard lock(impl_->mutex);
  impl_->fault = std::move(fault);
}

Fault FaultServer::current() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->fault;
}

std::vector<FaultRequest> FaultServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t FaultServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received.size();
}

std::size_t FaultServer::connections_accepted() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t FaultServer::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open;
}

std::uint64_t FaultServer::bytes_sent() const { return impl_->sent.load(); }

bool FaultServer::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return request_count() >= n; }, timeout, 20ms);
}

std::string FaultServer::refused_url() { return "http://127.0.0.1:" + std::to_string(free_port()); }

namespace {

std::uint64_t status_kib(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

}  // namespace

std::uint64_t peak_rss_bytes(int pid) { return status_kib(pid, "VmHWM"); }
std::uint64_t rss_bytes(int pid) { return status_kib(pid, "VmRSS"); }

}  // namespace promwatch::test
