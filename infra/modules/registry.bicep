// The registry azd pushes the app's image to. The app pulls with its managed identity (AcrPull); no admin user.
import { builtInRoles } from 'roleIds.bicep'

param name string
param location string
param tags object
param principalId string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, principalId, builtInRoles.acrPull)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.acrPull)
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
