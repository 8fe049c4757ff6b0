// libcurl multi on a Boost.Asio io_context, driven by CURLMOPT_SOCKETFUNCTION and
// CURLMOPT_TIMERFUNCTION.
//
// Rules kept here (see DESIGN.md, "Traps"):
//  - Per-socket state lives in a shared_ptr owned by `sockets`; Asio handlers hold a weak_ptr,
//    because a read and a write handler can both be queued when one of them removes the socket.
//    Each direction's wait also carries a generation, so a wait cancelled when curl stopped
//    watching a socket cannot clear the flag of a newer wait on the same socket.
//  - Curl owns its sockets: on CURL_POLL_REMOVE the descriptor is release()d, never closed, and
//    the only close we do is the one curl asks for through CURLOPT_CLOSESOCKETFUNCTION.
//  - async_wait is re-armed after each completion while curl still wants that direction.
//  - No libcurl call happens inside a libcurl callback: the socket, timer and close-socket
//    callbacks only touch Asio objects; a 0 ms timeout is posted to the loop.
//  - curl_multi_info_read results are copied before the handle is removed.
//  - Completion callbacks are posted to the loop, never run inline, and dropped once the client
//    is gone (a weak "alive" token guards every handler).
//  - The multi handle is cleaned up in the destructor while everything it calls back is alive.
//
// Cost per request (issue #7: ~100 us of CPU per one-series rule evaluation, a third of it in
// system calls):
//  - The Asio timer is moved only when curl's deadline moves earlier. Curl reports a new
//    deadline several times per transfer, mostly later ones (each new transfer's timeout lies
//    beyond the oldest one's); re-arming for each cost a timerfd_settime. A wait that fires
//    before curl's deadline re-arms itself without calling curl; 0 ms is a post, not a timer.
//  - Easy handles come from a small pool and go back with curl_easy_reset instead of a
//    curl_easy_init/curl_easy_cleanup (and their allocations) per request.
//  - The socket of an idle connection in curl's cache stays registered with epoll between
//    transfers (waits cancelled), instead of an EPOLL_CTL_DEL and an EPOLL_CTL_ADD around each
//    reuse. That is only safe for sockets whose close curl reports to us: connection sockets,
//    which we learn from CURLINFO_ACTIVESOCKET and which curl closes through our
//    CURLOPT_CLOSESOCKETFUNCTION. Every other socket (the threaded resolver's socketpair, a
//    losing happy-eyeballs attempt, which curl 7.88 closes without that callback) is released
//    on CURL_POLL_REMOVE as before.

#include "promwatch/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#ifndef PROMWATCH_VERSION
#define PROMWATCH_VERSION "dev"
#endif

namespace promwatch {
namespace {

namespace asio = boost::asio;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("libcurl: curl_global_init failed");
    }
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if ((info->features & CURL_VERSION_ASYNCHDNS) == 0) {
      spdlog::critical("libcurl {} has no asynchronous resolver; name lookups would block the event loop",
                       info->version);
      throw std::runtime_error(std::string("libcurl ") + info->version +
                               " was built without an asynchronous DNS resolver (CURL_VERSION_ASYNCHDNS); "
                               "promwatch needs the threaded or c-ares resolver");
    }
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

/// One transfer: the easy handle and everything whose lifetime it needs. Pooled with its easy
/// handle (see HttpClient::Impl::acquire/recycle): `recycle` puts every field back to its
/// default, so a reused Transfer carries nothing over from the previous request.
struct Transfer {
  explicit Transfer(CURL* e) : easy(e) {}

  /// Back to the state of a new Transfer; the easy handle must be out of the multi. Frees the
  /// request's buffers rather than keeping their capacity: an idle pooled Transfer holds no
  /// request or response memory.
  void recycle() {
    curl_easy_reset(easy.get());  // curl's copies of our strings and its per-request state
    headers.reset();
    connect_to.reset();
    mail_recipients.reset();
    is_mail = false;
    upload_offset = 0;
    std::string().swap(request_body);
    done = nullptr;
    response = HttpResponse{};
    std::string().swap(retry_after_raw);
    max_bytes = 0;
    timeout = Duration{0};
    error_buffer[0] = '\0';
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::unique_ptr<curl_slist, SlistDeleter> connect_to;
  std::unique_ptr<curl_slist, SlistDeleter> mail_recipients;
  bool is_mail = false;
  std::size_t upload_offset = 0;  // how much of request_body curl has read (mail uploads)
  std::string request_body;
  HttpClient::Callback done;
  HttpResponse response;
  std::string retry_after_raw;
  std::uint64_t max_bytes = 0;
  Duration timeout{0};
  std::chrono::steady_clock::time_point started;
  std::size_t active_index = 0;  // position in Impl::active while in flight
  char error_buffer[CURL_ERROR_SIZE] = {};
  // Last, so it is cleaned up first, while the buffers it points to still exist.
  std::unique_ptr<CURL, EasyDeleter> easy;
};

// CURLOPT_READFUNCTION of a mail upload: the message, piece by piece.
size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = std::min(size * count, t->request_body.size() - t->upload_offset);
  std::memcpy(buffer, t->request_body.data() + t->upload_offset, n);
  t->upload_offset += n;
  return n;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (t->response.body.size() + n > t->max_bytes) {
    t->response.too_large = true;
    return CURL_WRITEFUNC_ERROR;
  }
  t->response.body.append(data, n);
  return n;
}

size_t read_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->retry_after_raw.clear();  // a new response (after 100 Continue or a redirect)
    return n;
  }
  std::size_t colon = line.find(':');
  if (colon != std::string_view::npos && lower(trim(line.substr(0, colon))) == "retry-after") {
    t->retry_after_raw = std::string(trim(line.substr(colon + 1)));
  }
  return n;
}

std::string describe_failure(CURLcode code, const Transfer& t, long os_errno) {
  const char* detail = t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timed out after " + format_duration(t.timeout);
    case CURLE_COULDNT_CONNECT:
      if (os_errno == ECONNREFUSED) return "connection refused";
      if (os_errno == ENETUNREACH || os_errno == EHOSTUNREACH) return "network unreachable";
      return std::string("could not connect: ") + detail;
    case CURLE_COULDNT_RESOLVE_HOST:
      return std::string("could not resolve host: ") + detail;
    case CURLE_COULDNT_RESOLVE_PROXY:
      return std::string("could not resolve proxy: ") + detail;
    case CURLE_GOT_NOTHING:
      return "server closed the connection without a response";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      if (os_errno == ECONNRESET) return "connection reset by peer";
      return std::string("connection error: ") + detail;
    case CURLE_PARTIAL_FILE:
      return "connection closed before the whole response arrived";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "unsupported protocol (only http and https are allowed)";
    case CURLE_URL_MALFORMAT:
      return "malformed URL";
    case CURLE_TOO_MANY_REDIRECTS:
      return "too many redirects";
    case CURLE_PEER_FAILED_VERIFICATION:
      return std::string("TLS certificate verification failed: ") + detail;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return std::string("TLS error: ") + detail;
    default:
      return detail;
  }
}

}  // namespace

std::optional<Duration> parse_retry_after(std::string_view value, TimePoint now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      seconds = 365ull * 24 * 3600;  // absurdly large: callers cap it
    }
    seconds = std::min<std::uint64_t>(seconds, 365ull * 24 * 3600);
    return std::chrono::duration_cast<Duration>(std::chrono::seconds(seconds));
  }
  // An HTTP date (IMF-fixdate, RFC 850 or asctime); curl_getdate is a pure parser.
  std::string text(value);
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  auto at = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::from_time_t(when));
  if (at <= now) return Duration{0};
  return std::chrono::duration_cast<Duration>(at - now);
}

struct HttpClient::Impl {
  using Clock = std::chrono::steady_clock;

  /// Idle easy handles kept for reuse: the datasource's default max_concurrent_queries (64),
  /// so a steady stream of evaluations never initialises a handle. One idle handle is a few KB
  /// (curl frees its download buffer at the end of each transfer).
  static constexpr std::size_t kMaxIdleTransfers = 64;
  /// Curl reports its deadline in whole milliseconds, rounded down: a wait for exactly
  /// `timeout_ms` can end just before curl's deadline, and curl would then only ask for 1 ms
  /// more. Waking up to 1 ms late costs nothing (curl's timeouts are coarser than that).
  static constexpr auto kTimerSlack = std::chrono::milliseconds(1);
  /// Smallest connection cache (CURLMOPT_MAXCONNECTS); it grows with the transfers in flight.
  static constexpr std::size_t kMinConnectionCache = 16;

  /// Asio-side state of one socket curl asked us to watch (or an idle connection's socket,
  /// kept registered between transfers: wanted == 0 and no wait armed).
  struct Socket {
    explicit Socket(asio::io_context& io, curl_socket_t fd) : descriptor(io, fd), fd(fd) {}
    asio::posix::stream_descriptor descriptor;
    curl_socket_t fd;
    int wanted = 0;  // CURL_POLL_IN / OUT bits curl wants now
    bool read_armed = false;
    bool write_armed = false;
    // Bumped when the waits are cancelled: a cancelled wait's late completion is then ignored
    // and cannot clear the armed flag of a newer wait on the same socket.
    std::uint32_t read_generation = 0;
    std::uint32_t write_generation = 0;
  };

  explicit Impl(asio::io_context& io) : io(io), timer(io), alive(std::make_shared<char>(0)) {
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("libcurl: curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::socket_callback);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::timer_callback);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(kMinConnectionCache));
  }

  ~Impl() {
    alive.reset();  // every queued handler and completion now does nothing
    for (auto& t : active) curl_multi_remove_handle(multi, t->easy.get());
    active.clear();
    idle_transfers.clear();
    for (auto& [fd, socket] : sockets) release(*socket);
    sockets.clear();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, nullptr);
    // Closes cached connections, through close_socket_callback: `sockets` is empty by now, so
    // it only closes the descriptors.
    curl_multi_cleanup(multi);
    timer.cancel();
  }

  static void stop_waiting(Socket& s) {
    s.wanted = 0;
    if (!s.read_armed && !s.write_armed) return;
    ++s.read_generation;
    ++s.write_generation;
    s.read_armed = false;
    s.write_armed = false;
    boost::system::error_code ignored;
    s.descriptor.cancel(ignored);  // no system call: queued waits complete as aborted
  }

  static void release(Socket& s) {
    stop_waiting(s);
    if (s.descriptor.is_open()) s.descriptor.release();  // deregister from epoll without closing
  }

  // --- libcurl callbacks: Asio only, never libcurl --------------------------------------------

  static int socket_callback(CURL*, curl_socket_t fd, int what, void* user, void*) {
    auto* self = static_cast<Impl*>(user);
    try {
      auto it = self->sockets.find(fd);
      if (what == CURL_POLL_REMOVE) {
        if (it == self->sockets.end()) return 0;
        if (self->connection_sockets.count(fd) != 0) {
          // An idle connection curl keeps for reuse: stay registered, stop waiting. Curl tells
          // us when it closes it (close_socket_callback).
          stop_waiting(*it->second);
        } else {
          release(*it->second);
          self->sockets.erase(it);
        }
        return 0;
      }
      if (it == self->sockets.end()) {
        it = self->sockets.emplace(fd, std::make_shared<Socket>(self->io, fd)).first;
      }
      it->second->wanted = what;
      self->arm(it->second);
      return 0;
    } catch (const std::exception& e) {
      spdlog::error("http client: cannot watch socket {}: {}", fd, e.what());
      return -1;
    }
  }

  /// CURLOPT_CLOSESOCKETFUNCTION: curl closes one of its sockets (curl has already sent
  /// CURL_POLL_REMOVE if it was watching it). Here, and only here, closing is ours to do.
  static int close_socket_callback(void* user, curl_socket_t fd) {
    auto* self = static_cast<Impl*>(user);
    self->connection_sockets.erase(fd);
    auto it = self->sockets.find(fd);
    if (it != self->sockets.end()) {
      release(*it->second);
      self->sockets.erase(it);
    }
    return ::close(fd) == 0 ? 0 : 1;
  }

  static int timer_callback(CURLM*, long timeout_ms, void* user) {
    static_cast<Impl*>(user)->on_curl_timer(timeout_ms);
    return 0;
  }

  // --- timer -----------------------------------------------------------------------------------

  void on_curl_timer(long timeout_ms) {
    if (timeout_ms < 0) {  // no transfer has a deadline: nothing may keep the loop busy
      curl_due.reset();
      disarm_timer();
      return;
    }
    Clock::time_point now = Clock::now();
    curl_due = now + std::chrono::milliseconds(timeout_ms);
    if (timeout_ms == 0) {
      post_kick();
      return;
    }
    // A wait that ends no later than curl wants is kept (it re-arms itself if early); moving it
    // is a timerfd_settime whenever this is the loop's earliest timer.
    Clock::time_point wake = *curl_due + kTimerSlack;
    if (timer_at && *timer_at <= wake) return;
    arm_timer(wake);
  }

  void arm_timer(Clock::time_point at) {
    timer_at = at;
    std::uint64_t generation = ++timer_generation;
    timer.expires_at(at);  // cancels the previous wait, whose handler then sees a stale generation
    timer.async_wait([this, token = std::weak_ptr<char>(alive), generation](const boost::system::error_code& ec) {
      if (token.expired() || ec == asio::error::operation_aborted || generation != timer_generation) return;
      on_timer_fired();
    });
  }

  void disarm_timer() {
    if (!timer_at) return;
    timer_at.reset();
    ++timer_generation;
    timer.cancel();
  }

  void on_timer_fired() {
    timer_at.reset();
    if (!curl_due) return;
    if (Clock::now() < *curl_due) {  // curl's deadline moved later since this wait was armed
      arm_timer(*curl_due + kTimerSlack);
      return;
    }
    run_timeout();
  }

  /// curl asked for 0 ms: one CURL_SOCKET_TIMEOUT action from the loop, however often it asks
  /// before that runs.
  void post_kick() {
    if (kick_posted) return;
    kick_posted = true;
    asio::post(io, [this, token = std::weak_ptr<char>(alive)] {
      if (token.expired()) return;
      kick_posted = false;
      // Served meanwhile (a socket action also runs curl's expired timers) or moved later (then
      // the timer is armed for it).
      if (!curl_due || Clock::now() < *curl_due) return;
      run_timeout();
    });
  }

  void run_timeout() {
    // Curl calls the timer callback again during this action if anything is still due later;
    // if nothing is, it does not say so (-1) after a timeout action.
    curl_due.reset();
    action(CURL_SOCKET_TIMEOUT, 0);
  }

  // --- loop side -------------------------------------------------------------------------------

  void arm(const std::shared_ptr<Socket>& s) {
    if (!s->descriptor.is_open()) return;
    if ((s->wanted & CURL_POLL_IN) && !s->read_armed) {
      s->read_armed = true;
      s->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                               [this, token = std::weak_ptr<char>(alive), weak = std::weak_ptr<Socket>(s),
                                generation = s->read_generation](const boost::system::error_code& ec) {
                                 if (token.expired()) return;
                                 on_ready(weak, CURL_CSELECT_IN, generation, ec);
                               });
    }
    if ((s->wanted & CURL_POLL_OUT) && !s->write_armed) {
      s->write_armed = true;
      s->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                               [this, token = std::weak_ptr<char>(alive), weak = std::weak_ptr<Socket>(s),
                                generation = s->write_generation](const boost::system::error_code& ec) {
                                 if (token.expired()) return;
                                 on_ready(weak, CURL_CSELECT_OUT, generation, ec);
                               });
    }
  }

  void on_ready(const std::weak_ptr<Socket>& weak, int direction, std::uint32_t generation,
                const boost::system::error_code& ec) {
    std::shared_ptr<Socket> s = weak.lock();
    if (!s) return;  // curl removed the socket meanwhile
    if (direction == CURL_CSELECT_IN) {
      if (generation != s->read_generation) return;  // cancelled; a newer wait may be armed
      s->read_armed = false;
    } else {
      if (generation != s->write_generation) return;
      s->write_armed = false;
    }
    if (ec == asio::error::operation_aborted) return;
    // A wait armed before curl narrowed what it wants: nothing to tell curl, do not re-arm it.
    int wanted_bit = direction == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if ((s->wanted & wanted_bit) == 0) return;
    action(s->fd, ec ? CURL_CSELECT_ERR : direction);
    // Curl may have removed or closed the socket (wanted == 0) or changed what it wants.
    arm(s);
  }

  /// One curl_multi_socket_action and what follows it.
  void action(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi, fd, flags, &running);
    collect_done();
    if (active.empty()) {
      // Without transfers curl has no deadlines; do not let a stale wait hold the loop (a
      // command-line run of io.run() would wait for it).
      curl_due.reset();
      disarm_timer();
    }
  }

  void collect_done() {
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;  // copy before the handle is removed: msg dies with it
      CURLcode code = msg->data.result;
      finish(easy, code);
    }
  }

  void finish(CURL* easy, CURLcode code) {
    char* priv = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    auto* found = reinterpret_cast<Transfer*>(priv);
    if (found == nullptr || found->active_index >= active.size() || active[found->active_index].get() != found) {
      curl_multi_remove_handle(multi, easy);
      return;
    }
    std::unique_ptr<Transfer> t = take_active(*found);

    HttpResponse& r = t->response;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
    char* content_type = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
      r.content_type = content_type;
    }
    long connects = 0;
    if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0) {
      connections += static_cast<std::uint64_t>(connects);
      // A new connection that curl kept in its cache: its socket stays registered with epoll
      // from its next CURL_POLL_REMOVE on, until curl closes it. (A reused connection was
      // recorded when it was new.)
      curl_socket_t kept = CURL_SOCKET_BAD;
      if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &kept) == CURLE_OK && kept != CURL_SOCKET_BAD) {
        connection_sockets.insert(kept);
      }
    }
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_multi_remove_handle(multi, easy);

    if (!t->retry_after_raw.empty()) r.retry_after = parse_retry_after(t->retry_after_raw, now());
    if (code != CURLE_OK) {
      if (code == CURLE_FILESIZE_EXCEEDED) r.too_large = true;
      if (r.too_large) {
        r.error = "response body exceeds max_response_bytes (" + std::to_string(t->max_bytes) + " bytes)";
        r.body.clear();
      } else if (t->is_mail && code == CURLE_USE_SSL_FAILED) {
        r.starttls_unavailable = true;
        r.error = std::string("SMTP: ") + (t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(code)) +
                  " (TLS is required)";
      } else if (t->is_mail && (r.status >= 400 || code == CURLE_LOGIN_DENIED)) {
        // The server refused a command; curl's message sometimes names it ("RCPT failed: 550"),
        // sometimes not ("Weird server reply" after DATA), so the code leads.
        r.error = "SMTP " + std::to_string(r.status) + ": " +
                  (t->error_buffer[0] != '\0' ? t->error_buffer : curl_easy_strerror(code));
      } else {
        r.timed_out = code == CURLE_OPERATION_TIMEDOUT;
        r.error = describe_failure(code, *t, os_errno);
      }
    }
    r.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - t->started);
    complete(std::move(t->done), std::move(r));
    recycle(std::move(t));
  }

  void complete(Callback done, HttpResponse response) {
    asio::post(io, [token = std::weak_ptr<char>(alive), done = std::move(done),
                    response = std::move(response)]() mutable {
      if (token.expired()) return;
      if (done) done(std::move(response));
    });
  }

  void fail_now(Callback done, std::string error) {
    HttpResponse r;
    r.error = std::move(error);
    complete(std::move(done), std::move(r));
  }

  // --- transfers -------------------------------------------------------------------------------

  /// A Transfer with a fresh (or reset) easy handle; null when curl cannot make one.
  std::unique_ptr<Transfer> acquire() {
    if (!idle_transfers.empty()) {
      std::unique_ptr<Transfer> t = std::move(idle_transfers.back());
      idle_transfers.pop_back();
      return t;
    }
    CURL* easy = curl_easy_init();
    if (easy == nullptr) return nullptr;
    return std::make_unique<Transfer>(easy);
  }

  /// Back to the pool (the easy handle is out of the multi), or freed when the pool is full.
  void recycle(std::unique_ptr<Transfer> t) {
    if (idle_transfers.size() >= kMaxIdleTransfers) return;
    t->recycle();
    idle_transfers.push_back(std::move(t));
  }

  void add_active(std::unique_ptr<Transfer> t) {
    t->active_index = active.size();
    active.push_back(std::move(t));
  }

  std::unique_ptr<Transfer> take_active(Transfer& t) {
    std::size_t i = t.active_index;
    std::unique_ptr<Transfer> out = std::move(active[i]);
    if (i + 1 != active.size()) {
      active[i] = std::move(active.back());
      active[i]->active_index = i;
    }
    active.pop_back();
    return out;
  }

  void send(HttpRequest req, Callback done);

  asio::io_context& io;
  asio::steady_timer timer;
  CURLM* multi = nullptr;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets;
  /// Sockets of connections curl keeps (CURLINFO_ACTIVESOCKET) and closes through
  /// close_socket_callback: the ones that may stay registered while idle.
  std::unordered_set<curl_socket_t> connection_sockets;
  std::vector<std::unique_ptr<Transfer>> active;          // in flight, in no particular order
  std::vector<std::unique_ptr<Transfer>> idle_transfers;  // the pool
  std::optional<Clock::time_point> curl_due;  // when curl wants CURL_SOCKET_TIMEOUT; none: never
  std::optional<Clock::time_point> timer_at;  // when the armed wait ends; none: no wait armed
  std::uint64_t timer_generation = 0;
  bool kick_posted = false;
  std::size_t peak_in_flight = 0;
  std::uint64_t connections = 0;
  std::shared_ptr<char> alive;  // expires when the client goes away
};

void HttpClient::Impl::send(HttpRequest req, Callback done) {
  std::unique_ptr<Transfer> t = acquire();
  if (!t) return fail_now(std::move(done), "libcurl: curl_easy_init failed");
  t->done = std::move(done);
  t->max_bytes = req.max_response_bytes;
  t->timeout = req.timeout;
  t->started = Clock::now();
  CURL* e = t->easy.get();

  // server_name: connect to the URL's host but speak TLS (SNI, certificate check, Host) as
  // server_name. Done by rewriting the URL host and CURLOPT_CONNECT_TO back to the real host;
  // the original Host header is kept. Not combined with a proxy (the proxy would see
  // server_name).
  std::string url = req.url;
  if (!req.tls.server_name.empty() && req.proxy_url.empty()) {
    std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (u && curl_url_set(u.get(), CURLUPART_URL, req.url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        std::string_view(scheme) == "https") {
      std::string original_host = host;
      std::string original_port = port;
      if (curl_url_set(u.get(), CURLUPART_HOST, req.tls.server_name.c_str(), 0) == CURLUE_OK) {
        char* rewritten = nullptr;
        if (curl_url_get(u.get(), CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
          url = rewritten;
          curl_free(rewritten);
          std::string mapping = req.tls.server_name + ":" + original_port + ":" + original_host + ":" + original_port;
          t->connect_to.reset(curl_slist_append(nullptr, mapping.c_str()));
          bool has_host = std::any_of(req.headers.begin(), req.headers.end(),
                                      [](const auto& h) { return lower(h.first) == "host"; });
          if (!has_host) {
            std::string host_header = original_host;
            if (original_port != "443") host_header += ":" + original_port;
            req.headers.emplace_back("Host", host_header);
          }
        }
      }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }

  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &read_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_USERAGENT, "promwatch/" PROMWATCH_VERSION);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl can decode
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  // Curl closes the connections this transfer opens through us: see close_socket_callback.
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::close_socket_callback);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  if (req.timeout.count() > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  if (req.max_response_bytes > 0) {
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(req.max_response_bytes));
  }
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  if (req.follow_redirects) curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  // An empty proxy disables the *_proxy environment variables: only the configured proxy is used.
  curl_easy_setopt(e, CURLOPT_PROXY, req.proxy_url.c_str());
  if (t->connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to.get());

  std::string method = req.method;
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  t->request_body = std::move(req.body);
  if (req.mail) {
    // SMTP: the same multi, sockets and timers as HTTP; only the protocol options differ.
    t->is_mail = true;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, ("<" + req.mail->from + ">").c_str());
    curl_slist* rcpt = nullptr;
    for (const auto& address : req.mail->recipients) rcpt = curl_slist_append(rcpt, ("<" + address + ">").c_str());
    t->mail_recipients.reset(rcpt);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(e, CURLOPT_USE_SSL, static_cast<long>(req.mail->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (!req.mail->login_options.empty()) curl_easy_setopt(e, CURLOPT_LOGIN_OPTIONS, req.mail->login_options.c_str());
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &read_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, t.get());
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t->request_body.size()));
    if (req.basic_auth) {
      curl_easy_setopt(e, CURLOPT_USERNAME, req.basic_auth->username.c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, req.basic_auth->password.c_str());
    }
  } else if (method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (method == "POST" || !t->request_body.empty() || method == "PUT" || method == "PATCH") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request_body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.data());
    }
    if (method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* list = nullptr;
  bool has_expect = req.mail.has_value();  // no HTTP headers at all for mail
  for (const auto& [name, value] : req.headers) {
    if (lower(name) == "expect") has_expect = true;
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  // No "Expect: 100-continue" round trip for large bodies.
  if (!has_expect) list = curl_slist_append(list, "Expect:");
  t->headers.reset(list);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);

  if (req.basic_auth && !req.mail) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(e, CURLOPT_USERNAME, req.basic_auth->username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, req.basic_auth->password.c_str());
  }
  if (!req.tls.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, req.tls.ca_file.c_str());
  if (!req.tls.cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, req.tls.cert_file.c_str());
  if (!req.tls.key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, req.tls.key_file.c_str());
  if (req.tls.insecure_skip_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  // CURLOPT_URL and friends copy their strings, except POSTFIELDS, HTTPHEADER, CONNECT_TO and
  // ERRORBUFFER, which live in the Transfer.
  CURLMcode mc = curl_multi_add_handle(multi, e);
  if (mc != CURLM_OK) {
    fail_now(std::move(t->done), std::string("libcurl: ") + curl_multi_strerror(mc));
    recycle(std::move(t));
    return;
  }
  add_active(std::move(t));
  // Curl's default connection cache holds 4 connections per transfer in the multi at the moment
  // a transfer ends: at the tail of each burst (a rule group's queries) it shrinks to a handful
  // and closes the rest, and the next burst connects again (about 20 new connections a second on
  // workload 1). Sized by the most transfers ever in flight instead, with room for other hosts.
  if (active.size() > peak_in_flight) {
    peak_in_flight = active.size();
    std::size_t cache = std::max(kMinConnectionCache, 2 * peak_in_flight);
    if (cache > kMinConnectionCache) curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(cache));
  }
}

HttpClient::HttpClient(boost::asio::io_context& io) {
  global_init_once();
  impl_ = std::make_unique<Impl>(io);
}

HttpClient::~HttpClient() = default;

void HttpClient::send(HttpRequest request, Callback done) { impl_->send(std::move(request), std::move(done)); }

std::size_t HttpClient::in_flight() const { return impl_->active.size(); }

std::uint64_t HttpClient::connections_opened() const { return impl_->connections; }

}  // namespace promwatch
