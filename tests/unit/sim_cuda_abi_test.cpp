// sim/cuda_abi/ (causeway's own CUDA declarations, which the simulated GPU always compiles
// against) agrees with NVIDIA's CUDA headers: every function's exported symbol and type, every
// enum value, macro value, typedef and struct layout, with and without the per-thread default
// stream. Built only where a CUDA toolkit is found (CAUSEWAY_CUDA_HOME); without one, ctest
// lists this test as skipped and says why. The tables come from support/cuda_abi_table.cpp,
// compiled once against each set of headers.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "support/cuda_abi_table.h"

namespace {

using causeway::testing::cuda_abi::Table;

std::map<std::string, std::string> by_name(const Table& table) {
  std::map<std::string, std::string> out;
  for (const auto& entry : table.entries) out[entry.kind + " " + entry.name] = entry.description;
  return out;
}

void expect_same(const Table& ours, const Table& nvidia) {
  ASSERT_EQ(ours.headers, "causeway") << "the 'ours' table was not built from sim/cuda_abi/";
  ASSERT_EQ(nvidia.headers, "nvidia") << "the 'nvidia' table was not built from the toolkit";
  ASSERT_FALSE(ours.entries.empty());
  const auto theirs = by_name(nvidia);
  ASSERT_EQ(theirs.size(), nvidia.entries.size()) << "duplicate names in support/cuda_abi_list.inc";
  for (const auto& [name, description] : by_name(ours)) {
    auto it = theirs.find(name);
    ASSERT_NE(it, theirs.end()) << name;
    EXPECT_EQ(description, it->second) << name << ": causeway's declaration differs from NVIDIA's";
  }
}

TEST(sim_cuda_abi, DeclarationsMatchNvidiasHeaders) {
  expect_same(causeway::testing::cuda_abi::table_ours_legacy(),
              causeway::testing::cuda_abi::table_nvidia_legacy());
}

TEST(sim_cuda_abi, PerThreadDefaultStreamSymbolsMatchNvidias) {
  const Table ours = causeway::testing::cuda_abi::table_ours_per_thread();
  expect_same(ours, causeway::testing::cuda_abi::table_nvidia_per_thread());
  // The per-thread table really renames (cudaMemcpy -> cudaMemcpy_ptds): otherwise the
  // comparison above would only repeat the legacy one.
  const auto names = by_name(ours);
  ASSERT_TRUE(names.count("function cudaMemcpy"));
  EXPECT_EQ(names.at("function cudaMemcpy").rfind("cudaMemcpy_ptds ", 0), 0u);
  EXPECT_EQ(names.at("function cuMemcpyHtoDAsync").rfind("cuMemcpyHtoDAsync_v2_ptsz ", 0), 0u);
}

// The names sim/cuda_abi/*.h declare, read from their text (each declaration starts a line).
std::set<std::string> declared_names() {
  std::set<std::string> names;
  const std::regex function(
      R"(^(?:CUresult CUDAAPI|cudaError_t CUDARTAPI|const char\* CUDARTAPI) (\w+)\()");
  const std::regex enumerator(R"(^\s+(\w+) = [0-9x]+,?$)");
  const std::regex macro(R"(^#define (\w+) (.+)$)");
  const std::regex typedef_name(R"(^typedef .*[ *](\w+);)");
  const std::regex typedef_tail(R"(^\} (\w+);)");
  const std::regex struct_open(R"(^(?:typedef )?struct (\w+) \{$)");
  const std::regex field(R"(^\s+[\w *]+?[ *](\w+);)");
  for (const char* file : {"cuda.h", "cuda_runtime_api.h"}) {
    std::ifstream in(std::string(CAUSEWAY_CUDA_ABI_HEADERS) + "/" + file);
    EXPECT_TRUE(in.good()) << file;
    std::string line;
    std::string open_struct;  // struct whose fields are being read
    std::vector<std::string> fields;
    while (std::getline(in, line)) {
      std::smatch m;
      if (std::regex_search(line, m, function)) {
        names.insert("function " + m[1].str());
      } else if (std::regex_match(line, m, enumerator)) {
        names.insert("enumerator " + m[1].str());
      } else if (std::regex_match(line, m, macro)) {
        const std::string name = m[1].str();
        const std::string value = m[2].str();
        // Symbol renames (cuMemAlloc -> cuMemAlloc_v2) are checked with their function;
        // calling-convention markers and causeway's own helpers are not part of the ABI.
        const bool rename = std::regex_match(value, std::regex(R"(cu\w+)"));
        if (!rename && name.rfind("CAUSEWAY_", 0) != 0) names.insert("macro " + name);
      } else if (std::regex_match(line, m, struct_open)) {
        open_struct = m[1].str();
        fields.clear();
      } else if (!open_struct.empty() && std::regex_match(line, m, typedef_tail)) {
        for (const auto& f : fields) names.insert("field " + m[1].str() + "." + f);
        names.insert("struct " + m[1].str());
        names.insert("type " + m[1].str());
        open_struct.clear();
      } else if (!open_struct.empty() && line == "};") {
        for (const auto& f : fields) names.insert("field " + open_struct + "." + f);
        names.insert("struct " + open_struct);
        open_struct.clear();
      } else if (!open_struct.empty() && std::regex_search(line, m, field)) {
        fields.push_back(m[1].str());
      } else if (std::regex_search(line, m, typedef_tail)) {
        names.insert("type " + m[1].str());  // } CUresult; closing a typedef'd enum
      } else if (std::regex_search(line, m, typedef_name)) {
        names.insert("type " + m[1].str());
      }
    }
  }
  return names;
}

TEST(sim_cuda_abi, EveryDeclarationIsChecked) {
  // A declaration added to sim/cuda_abi/ but not to support/cuda_abi_list.inc would never be
  // compared with NVIDIA's; and a list entry the headers no longer declare would be stale.
  const std::set<std::string> declared = declared_names();
  ASSERT_GT(declared.size(), 200u) << "the header parser found too little";
  std::set<std::string> listed;
  for (const auto& entry : causeway::testing::cuda_abi::table_ours_legacy().entries) {
    listed.insert(entry.kind + " " + entry.name);
  }
  for (const auto& name : declared) {
    EXPECT_TRUE(listed.count(name)) << name << " is declared in sim/cuda_abi/ but not checked "
                                    << "(add it to tests/support/cuda_abi_list.inc)";
  }
  for (const auto& name : listed) {
    EXPECT_TRUE(declared.count(name)) << name << " is checked but not found in sim/cuda_abi/";
  }
}

}  // namespace
