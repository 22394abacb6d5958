// Hdf5File::list(): the recursive listing `shardlab inspect` prints, with each dataset's shape,
// type, chunks and filters, links' targets and every object's attributes.
#include <hdf5.h>

#include <cstring>
#include <string>

#include "core/hdf5_file.h"
#include "core/hdf5_internal.h"

namespace shardlab {
namespace hdf5_internal {

// How a type is named and classified (declared in core/hdf5_internal.h).
bool is_bool_enum(hid_t type) {
  if (H5Tget_class(type) != H5T_ENUM || H5Tget_nmembers(type) != 2 || H5Tget_size(type) != 1) return false;
  bool ok = true;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    int8_t value = -1;
    if (name == nullptr || H5Tget_member_value(type, i, &value) < 0) {
      ok = false;
    } else {
      const char* expected = value == 0 ? "FALSE" : value == 1 ? "TRUE" : nullptr;
      ok = ok && expected != nullptr && std::strcmp(name, expected) == 0;
    }
    if (name != nullptr) H5free_memory(name);
  }
  return ok;
}

std::string type_name(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_ENUM: {
      if (is_bool_enum(type)) return "bool";
      Id base(H5Tget_super(type));
      return "enum(" + (base.ok() ? type_name(base.get()) : std::string("?")) + ")";
    }
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0 ? "string" : "string[" + std::to_string(H5Tget_size(type)) + "]";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ARRAY:
      return "array";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_REFERENCE:
      return "reference";
    case H5T_VLEN:
      return "vlen";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

Hdf5Class class_of(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return Hdf5Class::kInteger;
    case H5T_FLOAT:
      return Hdf5Class::kFloat;
    case H5T_ENUM:
      return is_bool_enum(type) ? Hdf5Class::kBool : Hdf5Class::kInteger;
    case H5T_STRING:
      return Hdf5Class::kString;
    default:
      return Hdf5Class::kOther;
  }
}

}  // namespace hdf5_internal

namespace {

// Groups nested deeper than this are not listed; it also stops hard-link cycles.
constexpr int kMaxListDepth = 64;

std::string filter_name(H5Z_filter_t id, const unsigned* values, size_t count, const char* name) {
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      return count > 0 ? "gzip " + std::to_string(values[0]) : "gzip";
    case H5Z_FILTER_SHUFFLE:
      return "shuffle";
    case H5Z_FILTER_FLETCHER32:
      return "fletcher32";
    case H5Z_FILTER_SZIP:
      return "szip";
    case H5Z_FILTER_NBIT:
      return "nbit";
    case H5Z_FILTER_SCALEOFFSET:
      return "scaleoffset";
    default:
      return name[0] != '\0' ? std::string(name) : "filter " + std::to_string(id);
  }
}

}  // namespace

using namespace hdf5_internal;

void Hdf5File::Impl::describe_dataset(hid_t dataset, Hdf5Member& member) const {
  Id space(H5Dget_space(dataset));
  Id type(H5Dget_type(dataset));
  if (space.ok()) member.shape = dimensions(space.get());
  if (type.ok()) member.dtype = type_name(type.get());
  Id plist(H5Dget_create_plist(dataset));
  if (!plist.ok()) return;
  if (H5Pget_layout(plist.get()) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(member.shape.size() + 1);
    const int rank = H5Pget_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data());
    if (rank > 0) member.chunk_shape.assign(chunk.begin(), chunk.begin() + rank);
  }
  const int filters = H5Pget_nfilters(plist.get());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0, values[8] = {0};
    size_t count = 8;
    char name[64] = {0};
    const H5Z_filter_t id =
        H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags, &count, values, sizeof name, name, &config);
    if (id < 0) continue;
    member.filters += (member.filters.empty() ? "" : ", ") + filter_name(id, values, count, name);
  }
}

void Hdf5File::Impl::visit(hid_t group, const std::string& path, int depth, std::vector<Hdf5Member>& out) const {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) fail("cannot list group " + quoted(path));
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) fail("cannot list group " + quoted(path));
    std::string name(static_cast<size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(length));

    Hdf5Member member;
    member.path = (path == "/" ? "/" : path + "/") + name;
    member.depth = depth + 1;
    H5L_info_t link;
    if (H5Lget_info(group, name.c_str(), &link, H5P_DEFAULT) < 0) fail("cannot read the link " + quoted(member.path));
    if (link.type == H5L_TYPE_SOFT || link.type == H5L_TYPE_EXTERNAL) {
      std::vector<char> value(link.u.val_size + 1, '\0');
      H5Lget_val(group, name.c_str(), value.data(), link.u.val_size, H5P_DEFAULT);
      if (link.type == H5L_TYPE_SOFT) {
        member.kind = Hdf5Member::Kind::kSoftLink;
        member.link_target = value.data();
      } else {
        member.kind = Hdf5Member::Kind::kExternalLink;
        const char* file_name = nullptr;
        const char* object_name = nullptr;
        unsigned flags = 0;
        if (H5Lunpack_elink_val(value.data(), link.u.val_size, &flags, &file_name, &object_name) >= 0)
          member.link_target = std::string(file_name) + ":" + object_name;
      }
      out.push_back(member);
      continue;
    }
    Id object(H5Oopen(group, name.c_str(), H5P_DEFAULT));
    if (!object.ok()) fail("cannot open " + quoted(member.path));
    member.attributes = attributes_of(object.get());
    switch (H5Iget_type(object.get())) {
      case H5I_GROUP:
        member.kind = Hdf5Member::Kind::kGroup;
        out.push_back(member);
        if (depth + 1 < kMaxListDepth) visit(object.get(), member.path, depth + 1, out);
        break;
      case H5I_DATASET:
        member.kind = Hdf5Member::Kind::kDataset;
        describe_dataset(object.get(), member);
        out.push_back(member);
        break;
      case H5I_DATATYPE:
        member.kind = Hdf5Member::Kind::kNamedType;
        out.push_back(member);
        break;
      default:
        out.push_back(member);
    }
  }
}

std::vector<Hdf5Member> Hdf5File::list() const {
  quiet();
  const Impl& m = impl();
  Id root = m.open_object("/");
  std::vector<Hdf5Member> out;
  Hdf5Member member;
  member.path = "/";
  member.kind = Hdf5Member::Kind::kGroup;
  member.attributes = m.attributes_of(root.get());
  out.push_back(member);
  m.visit(root.get(), "/", 0, out);
  return out;
}

}  // namespace shardlab
