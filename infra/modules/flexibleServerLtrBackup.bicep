// The "PostgreSQL Flexible Server Long Term Retention Backup" role on one server, for `flexibleServer` instances:
// it lets the app run the server's long-term-retention pre-check and backup, and nothing else on the server.
import { builtInRoles } from 'roleIds.bicep'

targetScope = 'resourceGroup'

param serverName string
param principalId string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: serverName
}

resource ltrBackup 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: server
  name: guid(server.id, principalId, builtInRoles.postgresFlexibleServerLtrBackup)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.postgresFlexibleServerLtrBackup)
  }
}
