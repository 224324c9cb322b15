// Reader on a protected server's resource group: the backup's access check reads the server (state, version,
// Flexible Server prerequisites) through ARM. Deployed with that resource group as its scope.
import { builtInRoles } from 'roleIds.bicep'

targetScope = 'resourceGroup'

param principalId string

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, builtInRoles.reader)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.reader)
  }
}
