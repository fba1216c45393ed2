/* milvus_rbac.c — the RBAC calls of milvus_client.h: users, roles, bindings
 * and grants, each one request through milvus_call like every other call. */
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/secret.h"
#include "target/milvus_client.h"

static int status_call(milvus_client *c, const char *method, const ProtobufCMessage *req, mcdc_err *err) {
    return milvus_call(c, method, NULL, req, &milvus__proto__common__status__descriptor, NULL, err);
}

int milvus_create_role(milvus_client *c, const char *role, mcdc_err *err) {
    Milvus__Proto__Milvus__RoleEntity entity = MILVUS__PROTO__MILVUS__ROLE_ENTITY__INIT;
    entity.name = (char *)role;
    Milvus__Proto__Milvus__CreateRoleRequest req = MILVUS__PROTO__MILVUS__CREATE_ROLE_REQUEST__INIT;
    req.entity = &entity;
    return status_call(c, "CreateRole", &req.base, err);
}

int milvus_drop_role(milvus_client *c, const char *role, mcdc_err *err) {
    Milvus__Proto__Milvus__DropRoleRequest req = MILVUS__PROTO__MILVUS__DROP_ROLE_REQUEST__INIT;
    req.role_name = (char *)role;
    return status_call(c, "DropRole", &req.base, err);
}

int milvus_operate_user_role(milvus_client *c, const char *user, const char *role, bool add, mcdc_err *err) {
    Milvus__Proto__Milvus__OperateUserRoleRequest req = MILVUS__PROTO__MILVUS__OPERATE_USER_ROLE_REQUEST__INIT;
    req.username = (char *)user;
    req.role_name = (char *)role;
    req.type = add ? MILVUS__PROTO__MILVUS__OPERATE_USER_ROLE_TYPE__AddUserToRole
                   : MILVUS__PROTO__MILVUS__OPERATE_USER_ROLE_TYPE__RemoveUserFromRole;
    return status_call(c, "OperateUserRole", &req.base, err);
}

int milvus_operate_privilege(milvus_client *c, const char *role, const char *object, const char *db,
                             const char *object_name, const char *privilege, bool grant, mcdc_err *err) {
    Milvus__Proto__Milvus__RoleEntity r = MILVUS__PROTO__MILVUS__ROLE_ENTITY__INIT;
    Milvus__Proto__Milvus__ObjectEntity o = MILVUS__PROTO__MILVUS__OBJECT_ENTITY__INIT;
    Milvus__Proto__Milvus__PrivilegeEntity p = MILVUS__PROTO__MILVUS__PRIVILEGE_ENTITY__INIT;
    Milvus__Proto__Milvus__UserEntity u = MILVUS__PROTO__MILVUS__USER_ENTITY__INIT;
    Milvus__Proto__Milvus__GrantorEntity g = MILVUS__PROTO__MILVUS__GRANTOR_ENTITY__INIT;
    Milvus__Proto__Milvus__GrantEntity e = MILVUS__PROTO__MILVUS__GRANT_ENTITY__INIT;
    r.name = (char *)role;
    o.name = (char *)object;
    p.name = (char *)privilege;
    /* The proxy fills in the grantor's name from the caller. */
    g.user = &u;
    g.privilege = &p;
    e.role = &r;
    e.object = &o;
    e.object_name = (char *)object_name;
    e.grantor = &g;
    e.db_name = (char *)db;
    Milvus__Proto__Milvus__OperatePrivilegeRequest req = MILVUS__PROTO__MILVUS__OPERATE_PRIVILEGE_REQUEST__INIT;
    req.entity = &e;
    req.type = grant ? MILVUS__PROTO__MILVUS__OPERATE_PRIVILEGE_TYPE__Grant
                     : MILVUS__PROTO__MILVUS__OPERATE_PRIVILEGE_TYPE__Revoke;
    return status_call(c, "OperatePrivilege", &req.base, err);
}

int milvus_create_credential(milvus_client *c, const char *user, const char *password, mcdc_err *err) {
    Milvus__Proto__Milvus__CreateCredentialRequest req = MILVUS__PROTO__MILVUS__CREATE_CREDENTIAL_REQUEST__INIT;
    req.username = (char *)user;
    req.password = mcdc_base64_encode(password, strlen(password));
    int rc = status_call(c, "CreateCredential", &req.base, err);
    mcdc_secret_free(req.password);
    return rc;
}

int milvus_select_roles(milvus_client *c, Milvus__Proto__Milvus__SelectRoleResponse **out, mcdc_err *err) {
    Milvus__Proto__Milvus__SelectRoleRequest req = MILVUS__PROTO__MILVUS__SELECT_ROLE_REQUEST__INIT;
    return milvus_call(c, "SelectRole", NULL, &req.base, &milvus__proto__milvus__select_role_response__descriptor,
                       (ProtobufCMessage **)out, err);
}

int milvus_select_users(milvus_client *c, Milvus__Proto__Milvus__SelectUserResponse **out, mcdc_err *err) {
    Milvus__Proto__Milvus__SelectUserRequest req = MILVUS__PROTO__MILVUS__SELECT_USER_REQUEST__INIT;
    req.include_role_info = true;
    return milvus_call(c, "SelectUser", NULL, &req.base, &milvus__proto__milvus__select_user_response__descriptor,
                       (ProtobufCMessage **)out, err);
}

int milvus_select_grants(milvus_client *c, const char *role, const char *db,
                         Milvus__Proto__Milvus__SelectGrantResponse **out, mcdc_err *err) {
    Milvus__Proto__Milvus__RoleEntity r = MILVUS__PROTO__MILVUS__ROLE_ENTITY__INIT;
    Milvus__Proto__Milvus__GrantEntity e = MILVUS__PROTO__MILVUS__GRANT_ENTITY__INIT;
    r.name = (char *)role;
    e.role = &r;
    e.db_name = (char *)db;
    Milvus__Proto__Milvus__SelectGrantRequest req = MILVUS__PROTO__MILVUS__SELECT_GRANT_REQUEST__INIT;
    req.entity = &e;
    return milvus_call(c, "SelectGrant", NULL, &req.base, &milvus__proto__milvus__select_grant_response__descriptor,
                       (ProtobufCMessage **)out, err);
}
