// The group key hash shared by the incident platforms.

#include "incident_key.hpp"

#include <openssl/evp.h>

namespace promwatch::chat {

std::string group_key_hash(std::string_view group_key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(group_key.data(), group_key.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace promwatch::chat
