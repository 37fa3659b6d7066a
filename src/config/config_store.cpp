// [store] and [fleet]: the job store's URL (PostgreSQL or empty for SQLite), how its password
// reaches libpq without ever being in the configuration file, and the node's name.

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config_steps.hpp"
#include "section_reader.hpp"

namespace lipsyncd {
namespace {

constexpr std::string_view kPasswordAdvice =
    "lipsyncd never reads the database password from its configuration file: remove it from "
    "the url and give it to libpq with PGPASSWORD, ~/.pgpass or PGPASSFILE, or with [store] "
    "password_file (a pgpass file, e.g. the systemd credential $CREDENTIALS_DIRECTORY/pgpass)";

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// libpq percent-decodes the URI's parameter names, so "pass%77ord" is "password" to it.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string percent_encoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The names of the URI's query parameters (?a=1&b=2), decoded as libpq decodes them.
std::vector<std::string> query_parameter_names(std::string_view url) {
  std::vector<std::string> names;
  const auto question = url.find('?');
  if (question == std::string_view::npos) return names;
  std::string_view query = url.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto parameter = query.substr(0, amp);
    names.push_back(percent_decoded(parameter.substr(0, parameter.find('='))));
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return names;
}

bool has_query_parameter(std::string_view url, std::string_view name) {
  for (const auto& parameter : query_parameter_names(url)) {
    if (parameter == name) return true;
  }
  return false;
}

// user:secret@host: a ':' in the user part before the '@'. The part ends at the query; the
// last '@' is taken, so a password holding an '@' is caught too.
bool carries_password_in_user_part(std::string_view after_scheme) {
  const auto authority_and_path = after_scheme.substr(0, after_scheme.find('?'));
  const auto at = authority_and_path.rfind('@');
  return at != std::string_view::npos &&
         authority_and_path.substr(0, at).find(':') != std::string_view::npos;
}

// libpq ignores (with a warning on stderr) a password file that group or others may read: the
// daemon would then connect without a password and fail with a less helpful message.
void check_password_file(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) {
    bad_config("cannot read [store] password_file " + file.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode) || !std::ifstream(file).good()) {
    bad_config("cannot read [store] password_file " + file.string() +
               " (not a regular file, or not readable by this user)");
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    bad_config("[store] password_file " + file.string() +
               " may be read by group or others, and libpq ignores such a file: chmod 0600 it "
               "(a systemd credential already is)");
  }
}

}  // namespace

void validate_store(const StoreConfig& store) {
  if (store.url.empty()) {
    if (!store.password_file.empty()) {
      bad_config(
          "[store] password_file is set but [store] url is empty: the SQLite store in "
          "[paths] state takes no password; remove password_file, or set url = "
          "\"postgresql://user@host/database\"");
    }
    return;
  }
  std::string_view scheme;
  for (const std::string_view candidate : {"postgresql://", "postgres://"}) {
    if (starts_with(store.url, candidate)) scheme = candidate;
  }
  if (scheme.empty()) {
    // Not echoed: whatever it is, it may hold a password.
    bad_config(
        "[store] url must be empty (SQLite in [paths] state) or a PostgreSQL URL, "
        "postgresql://user@host:port/database (postgres:// works too)");
  }
  const std::string_view url(store.url);
  if (carries_password_in_user_part(url.substr(scheme.size())) ||
      has_query_parameter(url, "password")) {
    // The url is not repeated in the message: it would put the password in the log.
    bad_config("[store] url carries a password; " + std::string(kPasswordAdvice));
  }
  if (!store.password_file.empty()) {
    if (has_query_parameter(url, "passfile")) {
      bad_config(
          "[store] url names a passfile and [store] password_file is set too: keep one of "
          "them");
    }
    check_password_file(store.password_file);
  }
}

std::optional<std::string> node_name_problem(std::string_view node) {
  if (node.empty()) return "is empty";
  if (node.size() > kMaxNodeNameLength) {
    return "is longer than " + std::to_string(kMaxNodeNameLength) + " characters";
  }
  for (const char c : node) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) == 0 && c != '.' && c != '_' && c != '-') {
      return "may hold only letters, digits, '.', '_' and '-'";
    }
  }
  return std::nullopt;
}

void default_node_to_host_name(FleetConfig& fleet) {
  if (!fleet.node.empty()) return;
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) {
    bad_config(std::string("[fleet] node is empty and the host name cannot be read (") +
               std::strerror(errno) + "): set [fleet] node");
  }
  fleet.node = name.data();
  if (const auto problem = node_name_problem(fleet.node)) {
    bad_config("[fleet] node is empty, and the host name \"" + fleet.node + "\", its default, " +
               *problem + ": set [fleet] node");
  }
}

void validate_fleet(const FleetConfig& fleet) {
  if (const auto problem = node_name_problem(fleet.node)) {
    bad_config("[fleet] node = \"" + fleet.node + "\" " + *problem +
               " (it names the node in the job store, its lock file and every log line)");
  }
  if (fleet.lease_s < kMinLeaseSeconds) {
    bad_config("[fleet] lease_s = " + std::to_string(fleet.lease_s) + " is below " +
               std::to_string(kMinLeaseSeconds) +
               ": a node renews its leases within lease_s, and a shorter lease would expire "
               "between two renewals of a busy node and hand its jobs to another");
  }
}

std::string store_connection_url(const StoreConfig& store) {
  if (store.url.empty() || store.password_file.empty()) return store.url;
  const char separator = store.url.find('?') == std::string::npos ? '?' : '&';
  return store.url + separator + "passfile=" + percent_encoded(store.password_file.string());
}

}  // namespace lipsyncd
