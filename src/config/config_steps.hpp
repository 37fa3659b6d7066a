#pragma once
// The steps of loading a configuration, each in its own file: reading the sections
// (config_sections.cpp), and checking the values and the endpoint + model
// (config_validation.cpp). Private to src/config.

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd {

// Every section of `root` into `c`, refusing unknown sections and keys. `accepted`, when
// given, collects "section.key" for every key the parser reads (accepted_keys()).
void read_sections(const toml::table& root, Config& c, std::set<std::string>* accepted = nullptr);

// [fleet] node: at most this long (a DNS label's limit, so a host name fits).
inline constexpr std::size_t kMaxNodeNameLength = 63;
// [fleet] lease_s: at least this many seconds.
inline constexpr int kMinLeaseSeconds = 2;

// Why `node` cannot name a fleet node ("is empty", ...), or nothing when it can.
std::optional<std::string> node_name_problem(std::string_view node);
// An empty [fleet] node becomes the host name (gethostname(2)), which must then be a valid
// node name too.
void default_node_to_host_name(FleetConfig& fleet);
// [store]: an empty url (SQLite) or a postgresql:// one without a password; a password_file
// only with a url, readable, and private (libpq ignores one that others may read).
void validate_store(const StoreConfig& store);
// [fleet]: a valid node name, a lease of at least kMinLeaseSeconds.
void validate_fleet(const FleetConfig& fleet);

// Value rules that span a key's type: allowed words, ranges, the detector's files.
void validate(const Config& c);

// Where the endpoint and the model came from, for a message that points at the right line.
struct FalChoiceSource {
  std::optional<std::int64_t> model_line;
  std::optional<std::int64_t> endpoint_line;
  bool endpoint_from_environment = false;
};

// The configured endpoint + model must exist before anything is uploaded or paid; the rate
// of that pair becomes the default estimate's.
void validate_model(Config& c, const FalChoiceSource& source);

}  // namespace lipsyncd
