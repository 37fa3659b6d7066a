// What a reload (SIGHUP) may change: a file that would silently drop settings is refused, and
// settings that only a restart can apply keep their running values.

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "section_reader.hpp"

namespace lipsyncd {

void check_reload(const Config& running, const Config& fresh) {
  const bool sets_a_key = std::any_of(fresh.file_keys.begin(), fresh.file_keys.end(),
                                      [](const std::string& k) { return k.find('.') != k.npos; });
  if (!sets_a_key) {
    bad_config(
        "the file sets no key (empty, or only comments and empty tables); a reload would "
        "replace every setting, the budget caps included, with its default");
  }
  for (const auto& entry : running.file_keys) {
    if (entry.find('.') == std::string::npos && !fresh.file_keys.contains(entry)) {
      bad_config("the file has no [" + entry +
                 "] section any more (a truncated or half-written file?); keep at least the "
                 "section header, or restart to drop it on purpose");
    }
  }
  const auto keeps_cap = [&](const char* key, double running_cap) {
    if (running_cap > 0 && !fresh.file_keys.contains(std::string("budget.") + key)) {
      bad_config("[budget] " + std::string(key) + " is missing: the running cap of " +
                 std::to_string(running_cap) + " USD would be dropped silently; write " + key +
                 " = 0 to remove the cap on purpose");
    }
  };
  keeps_cap("daily_usd", running.budget.daily_usd);
  keeps_cap("monthly_usd", running.budget.monthly_usd);
}

std::vector<std::string> keep_restart_only_settings(const Config& running, Config& fresh) {
  std::vector<std::string> kept;
  if (fresh.paths != running.paths) {
    fresh.paths = running.paths;
    kept.emplace_back("[paths] changes take effect only after a restart; keeping the old");
  }
  const auto connection = [](auto& fal) {
    return std::tie(fal.queue_url, fal.rest_url, fal.endpoint, fal.credentials, fal.ca_file,
                    fal.key_file);
  };
  if (connection(fresh.fal) != connection(running.fal)) {
    connection(fresh.fal) = connection(running.fal);
    kept.emplace_back(
        "fal URLs, endpoint, key and CA file take effect only after a restart; keeping the old");
  }
  if (fresh.log.sink != running.log.sink || fresh.log.json_file != running.log.json_file) {
    fresh.log.sink = running.log.sink;
    fresh.log.json_file = running.log.json_file;
    kept.emplace_back("[log] sink and json_file take effect only after a restart; keeping the old");
  }
  if (fresh.store != running.store || fresh.fleet != running.fleet) {
    fresh.store = running.store;
    fresh.fleet = running.fleet;
    kept.emplace_back(
        "[store] and [fleet] take effect only after a restart (the store, the node's lock and "
        "its leases are set up at start); keeping the old");
  }
  return kept;
}

}  // namespace lipsyncd
