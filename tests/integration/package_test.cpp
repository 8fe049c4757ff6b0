// The Debian package: `cpack -G DEB` on this build, then `dpkg-deb` on the result. The package
// holds the binary, the unit (naming /usr/bin/promwatch), the example config and rules as
// conffiles and the README; Depends names the Debian package of every shared library the binary
// links (dpkg-shlibdeps); the maintainer scripts reload systemd and never enable or start the
// unconfigured service; and the extracted binary runs and accepts the shipped rules.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/process.hpp"

namespace promwatch::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path build_dir() { return fs::path(promwatch_binary()).parent_path(); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// "Depends: a (>= 1), b, c" -> {a, b, c}
std::set<std::string> depends_packages(const std::string& info) {
  std::smatch m;
  std::set<std::string> out;
  if (!std::regex_search(info, m, std::regex(R"(\n Depends: ([^\n]*)\n)"))) return out;
  std::string list = m[1];
  std::regex item(R"(([a-z0-9][a-z0-9.+-]+)(\s*\([^)]*\))?\s*(,|\||$))");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), item); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

class DebianPackage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    if (::access("/usr/bin/dpkg-shlibdeps", X_OK) != 0) {
      cpack_log_ = "dpkg-shlibdeps not found: install the Debian package `dpkg-dev` (build-essential brings it)";
      return;
    }
    std::string out;
    int code = run_command({"/usr/bin/cpack", "-G", "DEB", "-B", dir_->path().string(), "--config",
                            (build_dir() / "CPackConfig.cmake").string()},
                           &out, 180s);
    cpack_log_ = out;
    if (code != 0) return;
    for (const auto& e : fs::directory_iterator(dir_->path())) {
      if (e.path().extension() == ".deb") deb_ = e.path();
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_FALSE(deb_.empty()) << "cpack made no .deb:\n" << cpack_log_; }

  static std::string dpkg_deb(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/dpkg-deb"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(deb_.string());
    std::string out;
    EXPECT_EQ(run_command(argv, &out, 60s), 0) << out;
    return out;
  }

  static TempDir* dir_;
  static fs::path deb_;
  static std::string cpack_log_;
};
TempDir* DebianPackage::dir_ = nullptr;
fs::path DebianPackage::deb_;
std::string DebianPackage::cpack_log_;

TEST_F(DebianPackage, ControlDeclaresDependenciesAndConffiles) {
  std::string info = dpkg_deb({"-I"});
  EXPECT_NE(info.find("\n Package: promwatch\n"), std::string::npos) << info;
  EXPECT_NE(info.find("\n Architecture: amd64\n"), std::string::npos) << info;
  std::set<std::string> depends = depends_packages(info);
  ASSERT_FALSE(depends.empty()) << info;
  // The libraries promwatch always links, by their Debian 12 package names.
  for (const char* pkg : {"libcurl4", "libfmt9", "libprometheus-cpp-core1.0", "libsimdjson14", "libre2-9",
                          "libsystemd0", "libtomlplusplus3", "libstdc++6", "libc6"}) {
    EXPECT_TRUE(depends.count(pkg)) << pkg << " missing from Depends in\n" << info;
  }
  EXPECT_TRUE(std::any_of(depends.begin(), depends.end(), [](const std::string& p) { return p.rfind("libspdlog1", 0) == 0; }))
      << info;
  // ...and, exactly, the package of every library the binary needs (whatever links today),
  // by name or by a name it Provides (libspdlog1.10 provides libspdlog1.10-fmt9).
  std::string needed, ldd;
  ASSERT_EQ(run_command({"/usr/bin/objdump", "-p", promwatch_binary()}, &needed, 30s), 0) << needed;
  ASSERT_EQ(run_command({"/usr/bin/ldd", promwatch_binary()}, &ldd, 30s), 0) << ldd;
  std::regex needed_re(R"(NEEDED\s+(\S+))");
  std::size_t checked = 0;
  for (auto it = std::sregex_iterator(needed.begin(), needed.end(), needed_re); it != std::sregex_iterator(); ++it) {
    const std::string soname = (*it)[1];
    SCOPED_TRACE(soname);
    std::smatch where;
    ASSERT_TRUE(std::regex_search(ldd, where, std::regex("\t" + std::regex_replace(soname, std::regex(R"([.+])"), R"(\$&)") +
                                                          R"( => (\S+))")))
        << ldd;
    // dpkg knows the path it installed: /usr/lib/... under usrmerge, and maybe not the symlink.
    std::string owner;
    bool found = false;
    for (const std::string& path : {where[1].str(), "/usr" + where[1].str(), fs::canonical(where[1].str()).string()}) {
      if ((found = run_command({"/usr/bin/dpkg", "-S", path}, &owner, 30s) == 0)) break;
    }
    ASSERT_TRUE(found) << owner;
    const std::string pkg = owner.substr(0, owner.find(':'));
    std::string provides;
    run_command({"/usr/bin/dpkg-query", "-W", "-f=${Provides}", pkg}, &provides, 30s);
    bool declared = depends.count(pkg) > 0;
    std::regex name_re(R"([a-z0-9][a-z0-9.+-]+)");
    for (auto p = std::sregex_iterator(provides.begin(), provides.end(), name_re); p != std::sregex_iterator(); ++p) {
      declared = declared || depends.count(p->str()) > 0;
    }
    EXPECT_TRUE(declared) << soname << " comes from " << pkg << " (provides: " << provides << "), not in Depends:\n" << info;
    ++checked;
  }
  EXPECT_GE(checked, 8u) << needed;

  std::string control = dir_->path() / "control";
  std::string out;
  ASSERT_EQ(run_command({"/usr/bin/dpkg-deb", "-e", deb_.string(), control}, &out, 60s), 0) << out;
  std::vector<std::string> conffiles = lines(read_file(fs::path(control) / "conffiles"));
  std::vector<std::string> expected{"/etc/promwatch/promwatch.toml"};
  for (const auto& e : fs::directory_iterator(source_dir() / "rules")) {
    if (e.path().extension() == ".toml") expected.push_back("/etc/promwatch/rules/" + e.path().filename().string());
  }
  std::sort(conffiles.begin(), conffiles.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(conffiles, expected);

  // postinst: daemon-reload, nothing enabled or started; no script starts anything.
  std::string postinst = read_file(fs::path(control) / "postinst");
  EXPECT_NE(postinst.find("daemon-reload"), std::string::npos) << postinst;
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    std::string text = read_file(fs::path(control) / script);
    ASSERT_FALSE(text.empty()) << script;
    EXPECT_EQ(text.rfind("#!/bin/sh\n", 0), 0u) << script;
    EXPECT_FALSE(std::regex_search(text, std::regex(R"(systemctl[^\n]*\b(start|enable|restart|reload-or-restart|try-restart)\b)")))
        << script << ":\n" << text;
    EXPECT_EQ(text.find("deb-systemd-invoke"), std::string::npos) << script;
    EXPECT_EQ(fs::status(fs::path(control) / script).permissions() & fs::perms::owner_exec, fs::perms::owner_exec) << script;
    std::string syntax;
    EXPECT_EQ(run_command({"/bin/sh", "-n", (fs::path(control) / script).string()}, &syntax, 10s), 0) << syntax;
  }
}

TEST_F(DebianPackage, ExtractsToTheExpectedFiles) {
  TempDir root;
  std::string out;
  ASSERT_EQ(run_command({"/usr/bin/dpkg-deb", "-x", deb_.string(), root.path().string()}, &out, 60s), 0) << out;
  std::set<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root.path())) {
    if (!e.is_directory()) files.insert(fs::relative(e.path(), root.path()).string());
  }
  std::set<std::string> expected{"usr/bin/promwatch", "usr/lib/systemd/system/promwatch.service",
                                 "usr/share/doc/promwatch/README.md", "etc/promwatch/promwatch.toml"};
  for (const auto& e : fs::directory_iterator(source_dir() / "rules")) {
    if (e.path().extension() == ".toml") expected.insert("etc/promwatch/rules/" + e.path().filename().string());
  }
  EXPECT_EQ(files, expected);

  fs::path binary = root.path() / "usr/bin/promwatch";
  EXPECT_EQ(fs::status(binary).permissions() & fs::perms::others_exec, fs::perms::others_exec);
  std::string version;
  EXPECT_EQ(run_command({binary.string(), "--version"}, &version, 10s), 0) << version;
  EXPECT_NE(version.find(PROMWATCH_VERSION), std::string::npos) << version;

  std::string unit = read_file(root.path() / "usr/lib/systemd/system/promwatch.service");
  EXPECT_NE(unit.find("\nExecStart=/usr/bin/promwatch --config"), std::string::npos) << unit;
  EXPECT_NE(unit.find("\nExecStartPre=/usr/bin/promwatch check --config"), std::string::npos) << unit;

  // The packaged binary accepts the packaged example rules.
  TempDir dir;
  fs::path config = dir.write("promwatch.toml", "[global]\nrule_files = [\"" +
                                                    (root.path() / "etc/promwatch/rules").string() +
                                                    "/*.toml\"]\n[datasource]\nurl = \"http://127.0.0.1:1\"\n");
  EXPECT_EQ(run_command({binary.string(), "check", "--config", config.string()}, &out, 30s), 0) << out;
}

}  // namespace
}  // namespace promwatch::test
